"""The phone layout in Chromium: the host panel as a sheet that never covers the control bar, with its own close
(button and Escape); a small self-view; thumb-sized controls at the bottom; no sideways scrolling on the home,
join and call pages at five screen sizes; no screen-share button where the browser cannot share a screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import ViewportSize

from .boxes import box, catalog, intersects
from .conftest import (
    NewContext,
    create_meeting,
    host_in_new_meeting,
    join_guest,
    login_host,
    participant_id,
    tile_selector,
    wait_for_tile,
)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 720}
SIZES: list[ViewportSize] = [
    {"width": 360, "height": 640},
    PHONE,
    {"width": 768, "height": 1024},
    DESKTOP,
    {"width": 1920, "height": 1080},
]
MIN_TARGET = 44  # px: the smallest comfortable touch target

# Two animation frames: the layout for the new viewport has been computed and painted.
SETTLED_JS = "() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))"
OVERFLOW_JS = "() => ({scroll: document.scrollingElement.scrollWidth, inner: window.innerWidth})"


def shot(name: str, language: str, size: ViewportSize) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}-{language}-{size['width']}x{size['height']}.png")


@pytest.mark.parametrize("locale", ["en-US", "uk-UA"])
async def test_the_host_panel_is_a_sheet_above_the_controls_on_a_phone(new_context: NewContext, locale: str) -> None:
    language = locale[:2]
    words = catalog(language)
    host, meeting_id = await host_in_new_meeting(new_context, viewport=PHONE, locale=locale)
    await participant_id(host)
    guest = await join_guest(await new_context(viewport=PHONE, locale=locale), meeting_id, "Ann")
    ann_id = await participant_id(guest)
    await wait_for_tile(host, ann_id)
    await host.locator(f'[data-testid="participant-row"][data-participant-id="{ann_id}"]').wait_for(state="attached")

    # Controls at the bottom, for a thumb, each at least 44 px.
    bar = await box(host, "footer.controls")
    assert bar["y"] + bar["height"] == pytest.approx(PHONE["height"], abs=1)
    toggle = host.get_by_test_id("toggle-host-panel")
    for target in ("toggle-mic", "toggle-camera", "leave", "toggle-host-panel"):
        found = await host.get_by_test_id(target).bounding_box()
        assert found is not None, target
        assert found["width"] >= MIN_TARGET and found["height"] >= MIN_TARGET, (target, found)
        assert intersects(found, bar), f"{target} is not in the control bar"

    # The self-view is a small picture in a corner over the other person's tile.
    mine = await box(host, '[data-testid="local-tile"]')
    theirs = await box(host, tile_selector(ann_id))
    assert mine["width"] * mine["height"] < 0.2 * theirs["width"] * theirs["height"], (mine, theirs)
    assert mine["x"] + mine["width"] <= PHONE["width"] and mine["y"] + mine["height"] <= bar["y"]

    await toggle.click()
    panel = host.get_by_test_id("host-panel")
    await panel.wait_for(state="visible")
    sheet = await box(host, '[data-testid="host-panel"]')
    assert not intersects(sheet, await box(host, "footer.controls")), (sheet, bar)
    assert sheet["width"] == pytest.approx(PHONE["width"], abs=1)
    assert sheet["x"] >= 0 and sheet["x"] + sheet["width"] <= PHONE["width"] + 0.5
    # The mic stays usable with the sheet open: the element at its centre is the mic button itself.
    mic = await box(host, '[data-testid="toggle-mic"]')
    on_top = await host.evaluate("([x, y]) => document.elementFromPoint(x, y).closest('#toggle-mic') !== null",
                                 [mic["x"] + mic["width"] / 2, mic["y"] + mic["height"] / 2])
    assert on_top, "something covers the mic button while the host panel is open"
    await host.screenshot(path=shot("call-host-panel", language, PHONE))

    close = host.get_by_role("button", name=words["host.close"])
    assert await close.get_attribute("data-testid") == "close-host-panel"
    close_box = await close.bounding_box()
    assert close_box is not None and close_box["width"] >= MIN_TARGET and close_box["height"] >= MIN_TARGET
    await close.click()
    await panel.wait_for(state="hidden")
    assert await toggle.get_attribute("aria-expanded") == "false"

    # From the keyboard: Enter on the toggle opens it with the focus on its close button, Escape closes it and
    # gives the focus back to the toggle.
    await toggle.focus()
    await host.keyboard.press("Enter")
    await panel.wait_for(state="visible")
    assert await host.evaluate("document.activeElement.dataset.testid") == "close-host-panel"
    await host.keyboard.press("Escape")
    await panel.wait_for(state="hidden")
    assert await host.evaluate("document.activeElement.dataset.testid") == "toggle-host-panel"
    await host.keyboard.press("Enter")
    await panel.wait_for(state="visible")
    await host.keyboard.press("Enter")  # the close button, focused
    await panel.wait_for(state="hidden")

    # The same call on a laptop screen, for the record.
    await host.set_viewport_size(DESKTOP)
    await host.evaluate(SETTLED_JS)
    await host.screenshot(path=shot("call", language, DESKTOP))


async def test_no_page_scrolls_sideways_at_any_size(new_context: NewContext) -> None:
    context = await new_context(viewport=PHONE)
    call = await context.new_page()
    await login_host(call)
    meeting_id = await create_meeting(call)
    await participant_id(call)
    home = await context.new_page()
    await home.goto("/")
    join = await (await new_context(viewport=PHONE)).new_page()
    await join.goto(f"/join/{meeting_id}")
    await join.wait_for_function("() => window.prejoin !== undefined")

    wide: list[str] = []
    for size in SIZES:
        for name, page in (("home", home), ("join", join), ("call", call)):
            await page.set_viewport_size(size)
            await page.evaluate(SETTLED_JS)
            measured = await page.evaluate(OVERFLOW_JS)
            if measured["scroll"] > measured["inner"]:
                wide.append(f"{name} at {size['width']}x{size['height']}: {measured}")
        if size == DESKTOP:
            await call.get_by_test_id("toggle-host-panel").click()
            await call.get_by_test_id("host-panel").wait_for(state="visible")
            await call.evaluate(SETTLED_JS)
            await call.screenshot(path=shot("call-host-panel", "en", DESKTOP))
            await call.get_by_test_id("close-host-panel").click()
            await call.get_by_test_id("host-panel").wait_for(state="hidden")
    assert wide == []


async def test_no_screen_share_button_where_the_browser_cannot_share(new_context: NewContext) -> None:
    desktop, meeting_id = await host_in_new_meeting(new_context)
    await participant_id(desktop)
    await desktop.get_by_test_id("share-screen").wait_for(state="visible")

    phone = await new_context(viewport=PHONE)
    # A phone browser: no getDisplayMedia at all.
    await phone.add_init_script("delete MediaDevices.prototype.getDisplayMedia;")
    page = await phone.new_page()
    await page.goto(f"/join/{meeting_id}")
    await page.wait_for_function("() => window.prejoin !== undefined")
    await page.get_by_test_id("guest-name").fill("Phone")
    await page.get_by_test_id("join-submit").click()
    await page.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await participant_id(page)
    assert await page.evaluate("typeof navigator.mediaDevices.getDisplayMedia") == "undefined"
    share = page.get_by_test_id("share-screen")
    await share.wait_for(state="attached")
    assert not await share.is_visible()
    await page.get_by_test_id("toggle-mic").wait_for(state="visible")
