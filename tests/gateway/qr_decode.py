"""Reads QR codes back in tests: rasterizes segno's SVG path and decodes pixels with zxing-cpp."""

from __future__ import annotations

import re

import zxingcpp

_VIEWBOX = re.compile(rb'viewBox="0 0 (\d+) (\d+)"')
_PATH = re.compile(rb'<path class="qrline"[^>]*\sd="([^"]+)"')
_TOKEN = re.compile(r"([MmHh])\s*(-?[\d.]+)(?:\s+(-?[\d.]+))?")


def svg_modules(svg: bytes) -> list[list[bool]]:
    """The dark modules of a segno SVG (viewBox in modules, quiet zone included), as rows of booleans.

    segno draws each run of dark modules as a horizontal line at y + 0.5 with relative `m` / `h` steps.
    """
    box = _VIEWBOX.search(svg)
    path = _PATH.search(svg)
    assert box is not None and path is not None, svg[:200]
    width, height = int(box.group(1)), int(box.group(2))
    grid = [[False] * width for _ in range(height)]
    x = y = 0.0
    for command, first, second in _TOKEN.findall(path.group(1).decode()):
        if command in "Mm":
            dx, dy = float(first), float(second)
            x, y = (dx, dy) if command == "M" else (x + dx, y + dy)
        else:
            length = float(first)
            end = length if command == "H" else x + length
            row = int(y)  # the line runs through the middle of its module row
            for column in range(int(x), int(end)):
                grid[row][column] = True
            x = end
    return grid


def decode_modules(modules: list[list[bool]], scale: int = 4) -> list[str]:
    """Renders the modules black on white, `scale` pixels each, and decodes them."""
    size_y, size_x = len(modules) * scale, len(modules[0]) * scale
    pixels = bytearray(b"\xff" * (size_x * size_y))
    for row, line in enumerate(modules):
        for column, dark in enumerate(line):
            if not dark:
                continue
            for dy in range(scale):
                start = (row * scale + dy) * size_x + column * scale
                pixels[start : start + scale] = b"\x00" * scale
    return decode_gray(bytes(pixels), size_x, size_y)


def decode_gray(pixels: bytes, width: int, height: int) -> list[str]:
    """The texts of the QR codes in an 8-bit grayscale image."""
    image = memoryview(pixels).cast("B", (height, width))
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    return [result.text for result in results]
