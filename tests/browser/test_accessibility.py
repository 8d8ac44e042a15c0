"""axe-core on every page in Ukrainian and English, at a phone's and a laptop's size: no "serious" or "critical"
violation (the languages differ in text length, so in wrapping, overlap and contrast of what wraps).

The pages are page_tour.py's (login, home with a meeting and its share panel, join, the call with the host
panel open, a message page). Each page's screenshot is kept under test-artifacts/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page, ViewportSize

from .conftest import NewContext
from .page_tour import visit_every_page

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
BLOCKING = {"serious", "critical"}
AXE = Axe()


def describe(page_name: str, violation: dict[str, Any]) -> str:
    """One violation as a reader wants it: the rule, why, and which elements (with axe's fix summary)."""
    lines = [f"{page_name}: [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"]
    for node in violation["nodes"][:8]:
        lines.append(f"    {' '.join(node['target'])}: {node.get('failureSummary', '').replace(chr(10), ' ')}")
    return "\n".join(lines)


@pytest.mark.parametrize("locale", ["uk-UA", "en-US"], ids=["uk", "en"])
@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1280, "height": 720}],
                         ids=["phone", "laptop"])
async def test_no_serious_accessibility_violation_on_any_page(new_context: NewContext, viewport: ViewportSize,
                                                              locale: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    checked: list[str] = []

    async def check(name: str, page: Page, user_data: set[str]) -> None:
        checked.append(name)
        language = locale.split("-")[0]
        await page.screenshot(path=SCREENSHOTS / f"{name}-{language}-{viewport['width']}x{viewport['height']}.png")
        results = await AXE.run(page)
        for violation in results.response["violations"]:
            if violation["impact"] in BLOCKING:
                problems.append(describe(name, violation))

    await visit_every_page(new_context, locale, check, viewport)
    assert checked == ["login", "home", "join", "call", "message"]
    assert problems == [], "axe found:\n" + "\n".join(problems)
