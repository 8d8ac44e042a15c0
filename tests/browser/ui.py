"""Helpers for the share panel, the pre-join page and tile indicators (the call helpers are in conftest.py)."""

from __future__ import annotations

import base64
import re
from typing import Literal

from playwright.async_api import BrowserContext, Page

from .conftest import UI_TIMEOUT, diagnose, tile_selector

# Draws the QR <img> (same-origin SVG) onto a canvas and returns 8-bit grayscale pixels, base64-encoded.
QR_PIXELS_JS = """
async (size) => {
  const img = document.querySelector('[data-testid="qr-code"]');
  await img.decode();
  const canvas = document.createElement("canvas");
  canvas.width = size;
  canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.drawImage(img, 0, 0, size, size);
  const rgba = ctx.getImageData(0, 0, size, size).data;
  let gray = "";
  for (let i = 0; i < rgba.length; i += 4) {
    gray += String.fromCharCode(Math.round((rgba[i] + rgba[i + 1] + rgba[i + 2]) / 3));
  }
  return btoa(gray);
}
"""

PREVIEW_PLAYING_JS = """
() => {
  const v = document.querySelector('[data-testid="preview-video"]');
  if (!v || !v.srcObject || v.paused || v.videoWidth === 0) return false;
  const quality = v.getVideoPlaybackQuality().totalVideoFrames;
  const seen = (window.__previewFrames = window.__previewFrames || []);
  seen.push(quality);
  return seen.length > 3 && quality > seen[seen.length - 4];  // frames keep coming: it is live
}
"""


async def qr_pixels(page: Page, size: int = 400) -> bytes:
    encoded = await page.evaluate(QR_PIXELS_JS, size)
    assert isinstance(encoded, str)
    return base64.b64decode(encoded)


async def open_prejoin(context: BrowserContext, meeting_id: str) -> Page:
    page = await context.new_page()
    await page.goto(f"/join/{meeting_id}")
    # prejoin.js awaits its catalog before wiring the form: until window.prejoin is set, a click does nothing.
    await page.wait_for_function("() => window.prejoin !== undefined", timeout=UI_TIMEOUT)
    return page


async def wait_for_preview(page: Page) -> None:
    await page.wait_for_function(PREVIEW_PLAYING_JS, timeout=UI_TIMEOUT, polling=200)


async def submit_join(page: Page, meeting_id: str, name: str) -> None:
    await page.get_by_test_id("guest-name").fill(name)
    await page.get_by_test_id("join-submit").click()
    await page.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))


async def indicator_visible(page: Page, pid: str, testid: str) -> bool:
    return await page.locator(f'{tile_selector(pid)} [data-testid="{testid}"]').is_visible()


async def wait_indicator(page: Page, pid: str, testid: str, *, visible: bool) -> None:
    """Waits until the tile of `pid` shows (or stops showing) the indicator `testid`."""
    state: Literal["visible", "hidden"] = "visible" if visible else "hidden"
    try:
        await page.locator(f'{tile_selector(pid)} [data-testid="{testid}"]').wait_for(state=state, timeout=UI_TIMEOUT)
    except Exception as exc:
        raise AssertionError(f"{testid} on {pid} never became {state}; page {await diagnose(page)}") from exc


async def deny_media(context: BrowserContext) -> None:
    """Every getUserMedia in this profile fails as if the person clicked "Block"."""
    await context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
             Promise.reject(new DOMException("Permission denied", "NotAllowedError"));"""
    )
