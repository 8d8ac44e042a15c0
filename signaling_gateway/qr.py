"""QR codes of meeting links, as SVG made with segno."""

from __future__ import annotations

import io

import segno

# Error correction M (15 %): survives a smudged phone screen or a glare spot, still a small symbol for ~60 chars.
ERROR_LEVEL = "m"
# The quiet zone the QR spec asks for; scanners fail more often without it.
QUIET_ZONE = 4


def qr_svg(link: str) -> bytes:
    """An SVG of `link` that scales to any size (viewBox, no fixed width/height), dark on white."""
    code = segno.make(link, error=ERROR_LEVEL, micro=False)
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=1,
        border=QUIET_ZONE,
        xmldecl=False,
        omitsize=True,
        title="Meeting link",
        dark="#000",
        light="#fff",  # a light background even on the dark theme: scanners expect dark modules on light
    )
    return out.getvalue()
