"""Layout checks shared by the phone-layout tests: catalogs by language and elements' boxes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.async_api import Page

ROOT = Path(__file__).resolve().parents[2]


def catalog(language: str) -> dict[str, str]:
    return json.loads((ROOT / "web_client" / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


def intersects(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


async def box(page: Page, selector: str) -> dict[str, Any]:
    found = await page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not rendered"
    return dict(found)
