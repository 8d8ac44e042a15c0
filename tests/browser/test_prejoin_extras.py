"""The pre-join page's extras in Chromium: the microphone level (Chromium's fake microphone beeps), who is
already in the call (and its updates), and "Camera is off" readable beside the toggles on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize

from .boxes import box, catalog, intersects
from .conftest import NewContext, host_in_new_meeting, join_guest, participant_id
from .ui import open_prejoin, wait_for_preview

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
LEVEL = "Number(document.querySelector('[data-testid=\"mic-level\"]').dataset.level)"
HEARD = 0.05  # the fake microphone's beep is far above this; silence is 0


async def who_is_here(page: Page, text: str) -> None:
    element = page.get_by_test_id("who-is-here")
    try:
        await page.wait_for_function(
            "(text) => { const e = document.querySelector('[data-testid=\"who-is-here\"]');"
            " return e && !e.hidden && e.textContent === text; }", arg=text, timeout=20_000)
    except Exception as exc:
        raise AssertionError(f"who is here never said {text!r}: {await element.text_content()!r}") from exc


async def test_the_microphone_level_follows_the_microphone(new_context: NewContext) -> None:
    _host, meeting_id = await host_in_new_meeting(new_context)
    guest = await open_prejoin(await new_context(), meeting_id)
    await wait_for_preview(guest)
    meter = guest.get_by_test_id("mic-level")
    assert await meter.is_visible()
    # A real click: browsers start sound processing only after the person interacts with the page.
    await guest.get_by_test_id("guest-name").click()
    await guest.keyboard.type("Ann")
    await guest.wait_for_function(f"() => {LEVEL} > {HEARD}", timeout=10_000, polling=50)

    await guest.get_by_test_id("toggle-mic").click()
    await guest.wait_for_function("() => window.prejoin.chosen.audio === false")
    await guest.wait_for_function(f"() => {LEVEL} === 0", timeout=5_000)
    # Silent for a while, beeps or not: nothing listens any more.
    for _ in range(10):
        await guest.wait_for_timeout(100)
        assert await guest.evaluate(LEVEL) == 0

    await guest.get_by_test_id("toggle-mic").click()
    await guest.wait_for_function(f"() => {LEVEL} > {HEARD}", timeout=10_000, polling=50)
    assert await meter.get_attribute("aria-valuenow") is not None


async def test_who_is_here_names_the_host_and_updates(new_context: NewContext) -> None:
    words = catalog("en")
    host, meeting_id = await host_in_new_meeting(new_context)
    await participant_id(host)
    host_name = await host.evaluate("window.meetingClient.name")
    assert isinstance(host_name, str) and host_name

    guest = await open_prejoin(await new_context(), meeting_id)
    await who_is_here(guest, words["join.here.one"].replace("{name}", host_name))

    ann = await join_guest(await new_context(), meeting_id, "Ann")
    await participant_id(ann)
    await who_is_here(guest, words["join.here.two"].replace("{first}", host_name).replace("{second}", "Ann"))

    await ann.get_by_test_id("leave").click()
    await ann.get_by_test_id("left-view").wait_for(state="visible")
    await host.get_by_test_id("leave").click()
    await host.get_by_test_id("left-view").wait_for(state="visible")
    await who_is_here(guest, words["join.here.nobody"])


async def test_who_is_here_in_ukrainian(new_context: NewContext) -> None:
    words = catalog("uk")
    host, meeting_id = await host_in_new_meeting(new_context)
    await participant_id(host)
    host_name = await host.evaluate("window.meetingClient.name")
    guest = await open_prejoin(await new_context(locale="uk-UA"), meeting_id)
    await who_is_here(guest, words["join.here.one"].replace("{name}", host_name))


@pytest.mark.parametrize("locale", ["en-US", "uk-UA"])
async def test_camera_off_text_is_clear_of_the_toggles_on_a_phone(new_context: NewContext, locale: str) -> None:
    language = locale[:2]
    _host, meeting_id = await host_in_new_meeting(new_context)
    guest = await open_prejoin(await new_context(viewport=PHONE, locale=locale), meeting_id)
    await wait_for_preview(guest)
    await guest.get_by_test_id("toggle-camera").click()
    await guest.wait_for_function("() => document.getElementById('preview').dataset.video === 'off'")
    text = guest.locator("#preview-off-text")
    assert await text.inner_text() == catalog(language)["join.camera_off"]
    words = await box(guest, "#preview-off-text")
    avatar = await box(guest, "#preview-avatar")
    preview = await box(guest, "#preview")
    for toggle in ("toggle-mic", "toggle-camera"):
        control = await box(guest, f'[data-testid="{toggle}"]')
        assert not intersects(words, control), (toggle, words, control)
        assert not intersects(avatar, control), (toggle, avatar, control)
    assert preview["y"] <= words["y"] and words["y"] + words["height"] <= preview["y"] + preview["height"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await guest.screenshot(path=str(SCREENSHOTS / f"prejoin-camera-off-{language}-390x844.png"))
