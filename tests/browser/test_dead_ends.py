"""No dead ends, in Chromium: every end of a call and every error page says what happened and its next step works.

The host gets "Your meetings" (their meeting list), a guest a box for a meeting code or link, a left call Rejoin;
the host who ended the meeting reads that they did, the guests that the host did; unknown paths get a styled 404.
The host controls' effects on a guest's page (banner, ask buttons, lock badge) speak the guest's language too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, WebSocketRoute

from .boxes import catalog
from .conftest import UI_TIMEOUT, NewContext, host_in_new_meeting, join_guest, login_host, participant_id, wait_for_tile
from .host_ui import row

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SIZES = ((390, 844), (1280, 720))
# The next step and whatever else is visible fits the viewport: no sideways scrolling, nothing cut off.
FITS_JS = """(testid) => {
  const box = document.querySelector(`[data-testid="${testid}"]`).getBoundingClientRect();
  return document.scrollingElement.scrollWidth <= window.innerWidth && box.left >= 0
    && box.right <= window.innerWidth && box.width > 0;
}"""


async def new_meeting_from(host: Page) -> str:
    """Another meeting of the signed-in host, made through the API the home page uses."""
    created = await host.evaluate("() => fetch('/api/meetings', {method: 'POST'}).then((r) => r.json())")
    return str(created["id"])


async def screenshots(page: Page, name: str, language: str, testid: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in SIZES:
        await page.set_viewport_size({"width": width, "height": height})
        assert await page.evaluate(FITS_JS, testid), f"{name} at {width}x{height} does not fit"
        await page.screenshot(path=str(SCREENSHOTS / f"{name}-{language}-{width}x{height}.png"))
    await page.set_viewport_size({"width": 960, "height": 600})


async def use_code_box(page: Page, typed: str, meeting_id: str) -> None:
    """Types into the visible meeting-code box and submits: the meeting's join page opens."""
    box = page.locator('[data-testid="meeting-code-form"]:visible')
    await box.get_by_test_id("meeting-code").fill(typed)
    await box.get_by_test_id("meeting-code-submit").click()
    await page.wait_for_url(re.compile(rf"/join/{re.escape(meeting_id)}$"))
    await page.get_by_test_id("guest-name").wait_for(state="visible")


async def goes_to_meeting_list(page: Page) -> None:
    await page.locator('[data-testid="your-meetings"]:visible, [data-testid="message-action"]:visible').click()
    await page.wait_for_url(re.compile(r"/$"))
    await page.get_by_test_id("meeting-item").first.wait_for(state="visible")


async def test_the_host_who_ended_reads_so_and_each_gets_a_next_step(new_context: NewContext) -> None:
    en, uk = catalog("en"), catalog("uk")
    host, meeting_id = await host_in_new_meeting(new_context)
    other_meeting = await new_meeting_from(host)
    guest_uk = await join_guest(await new_context(locale="uk-UA"), meeting_id, "Оксана")
    guest_en = await join_guest(await new_context(), meeting_id, "Ann")
    for page in (guest_uk, guest_en):
        await wait_for_tile(host, await participant_id(page))

    await host.get_by_test_id("toggle-host-panel").click()
    await host.get_by_test_id("end-meeting").click()
    await host.get_by_test_id("confirm-end-meeting").click()
    for page in (host, guest_uk, guest_en):
        await page.get_by_test_id("meeting-ended").wait_for(state="visible")
    host_view, uk_view = host.get_by_test_id("meeting-ended"), guest_uk.get_by_test_id("meeting-ended")
    assert await host_view.locator('[data-testid="ended-text"]:visible').inner_text() == en[
        "page.meeting_ended.text_host"]
    assert await guest_en.locator('[data-testid="ended-text"]:visible').inner_text() == en["page.meeting_ended.text"]
    assert await uk_view.locator('[data-testid="ended-text"]:visible').inner_text() == uk["page.meeting_ended.text"]
    assert await uk_view.locator("h1").inner_text() == uk["page.meeting_ended.title"]
    # The host's next step is their meetings, a guest's the code box; nobody is offered to rejoin an ended call.
    assert await host.get_by_test_id("your-meetings").is_visible()
    assert not await host.get_by_test_id("meeting-code-form").is_visible()
    assert await guest_uk.get_by_test_id("meeting-code-form").is_visible()
    assert not await guest_uk.get_by_test_id("your-meetings").is_visible()
    assert not await guest_uk.get_by_test_id("rejoin").is_visible()
    await screenshots(guest_uk, "meeting-ended", "uk", "meeting-code-submit")
    await screenshots(guest_en, "meeting-ended", "en", "meeting-code-submit")

    await goes_to_meeting_list(host)
    # A whole link pasted into the box, and a bare code in capitals.
    await use_code_box(guest_uk, f"{host.url.rstrip('/')}/join/{other_meeting}", other_meeting)
    await use_code_box(guest_en, f"  {other_meeting.upper()} ", other_meeting)

    # The ended meeting's link, opened again: the same wording per role, and the same next steps.
    await guest_en.goto(f"/join/{meeting_id}")
    assert await guest_en.get_by_test_id("message-text").inner_text() == en["page.meeting_ended.text"]
    await use_code_box(guest_en, other_meeting, other_meeting)
    response = await host.goto(f"/join/{meeting_id}")
    assert response is not None and response.status == 410
    assert await host.get_by_test_id("message-text").inner_text() == en["page.meeting_ended.text_host"]
    await goes_to_meeting_list(host)


async def test_a_removed_guest_gets_the_code_box_and_no_rejoin(new_context: NewContext) -> None:
    uk = catalog("uk")
    host, meeting_id = await host_in_new_meeting(new_context)
    other_meeting = await new_meeting_from(host)
    guest = await join_guest(await new_context(locale="uk-UA"), meeting_id, "Богдан")
    guest_id = await participant_id(guest)
    await wait_for_tile(host, guest_id)
    await host.get_by_test_id("toggle-host-panel").click()
    await row(host, guest_id, "kick-participant").click()
    kicked = guest.get_by_test_id("kicked")
    await kicked.wait_for(state="visible")
    assert await kicked.locator("p").first.inner_text() == uk["page.removed.text"]
    assert not await guest.get_by_test_id("rejoin").is_visible()
    assert not await guest.get_by_test_id("your-meetings").is_visible()
    assert await guest.evaluate(FITS_JS, "meeting-code-submit")
    await use_code_box(guest, other_meeting.replace("-", ""), other_meeting)
    # The removed meeting's own link stays closed to this browser, and says so with the same words.
    response = await guest.goto(f"/join/{meeting_id}")
    assert response is not None and response.status == 403
    assert await guest.get_by_test_id("message-text").inner_text() == uk["page.removed.text"]
    await use_code_box(guest, other_meeting, other_meeting)


async def test_a_guest_who_left_can_rejoin_or_go_elsewhere(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    other_meeting = await new_meeting_from(host)
    guest = await join_guest(await new_context(), meeting_id, "Ann")
    first_id = await participant_id(guest)
    await guest.get_by_test_id("leave").click()
    await guest.get_by_test_id("left-view").wait_for(state="visible")
    assert await guest.get_by_test_id("meeting-code-form").is_visible()
    assert not await guest.get_by_test_id("your-meetings").is_visible()
    await guest.get_by_test_id("rejoin").click()
    await guest.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await guest.wait_for_function(f"() => window.meetingClient.participantId && "
                                  f"window.meetingClient.participantId !== {json.dumps(first_id)}")
    await wait_for_tile(host, await participant_id(guest))
    assert not await guest.get_by_test_id("left-view").is_visible()
    await guest.get_by_test_id("leave").click()
    await use_code_box(guest, f"{host.url.split('/room/')[0]}/room/{other_meeting}", other_meeting)


async def test_the_host_who_left_gets_rejoin_and_their_meetings(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context, locale="uk-UA")
    await participant_id(host)
    await host.get_by_test_id("leave").click()
    left = host.get_by_test_id("left-view")
    await left.wait_for(state="visible")
    assert await left.get_by_test_id("rejoin").inner_text() == catalog("uk")["room.left.rejoin"]
    assert not await host.get_by_test_id("meeting-code-form").is_visible()
    await host.get_by_test_id("rejoin").click()
    await host.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await participant_id(host)
    await host.get_by_test_id("leave").click()
    await goes_to_meeting_list(host)


async def test_a_call_that_cannot_join_offers_rejoin(new_context: NewContext) -> None:
    en = catalog("en")
    host, meeting_id = await host_in_new_meeting(new_context)
    context = await new_context()
    refusals: list[str] = []

    # The first socket is refused the way a full meeting is; the one after Rejoin reaches the gateway.
    async def route(ws: WebSocketRoute) -> None:
        if refusals:
            ws.connect_to_server()
            return
        refusals.append(ws.url)
        ws.send(json.dumps({"type": "error", "code": "meeting_full", "message": "the meeting is full"}))
        await ws.close(code=4403, reason="meeting_full")

    guest = await context.new_page()
    await guest.route_web_socket(re.compile(r"/ws\?"), route)
    await guest.goto(f"/join/{meeting_id}")
    await guest.get_by_test_id("guest-name").fill("Ann")
    await guest.get_by_test_id("join-submit").click()
    status = guest.get_by_test_id("status")
    expected = en["room.status.disconnected_because"].format(reason="the meeting is full")
    await guest.wait_for_function(
        "(text) => { const s = document.querySelector('[data-testid=status]'); return !s.hidden && "
        "s.textContent.startsWith(text); }", arg=expected, timeout=UI_TIMEOUT)
    rejoin = status.get_by_role("button", name=en["room.left.rejoin"])
    await rejoin.click()
    await guest.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    await wait_for_tile(host, await participant_id(guest))
    assert len(refusals) == 1


@pytest.mark.parametrize("language", ["uk", "en"])
async def test_an_unknown_address_is_a_styled_404_with_a_code_box(new_context: NewContext, language: str) -> None:
    texts = catalog(language)
    host = await (await new_context()).new_page()
    await login_host(host)
    meeting_id = await new_meeting_from(host)
    page = await (await new_context(locale="uk-UA" if language == "uk" else "en-US")).new_page()
    response = await page.goto("/no/such/page")
    assert response is not None and response.status == 404
    assert await page.title() == f"{texts['page.not_found.title']} · {texts['app.name']}"
    assert await page.get_attribute("html", "lang") == language
    assert await page.get_by_test_id("message-title").inner_text() == texts["page.not_found.title"]
    # Styled: app.css loaded and applied (the card has the theme's panel colour and rounded corners).
    card = await page.get_by_test_id("not-found").evaluate(
        "(el) => { const s = getComputedStyle(el); return [s.backgroundColor, s.borderTopLeftRadius]; }")
    assert card == ["rgb(24, 27, 34)", "12px"]
    await screenshots(page, "not-found", language, "meeting-code-submit")
    await use_code_box(page, f"{host.url.rstrip('/')}/join/{meeting_id}", meeting_id)
    # The host, lost on a wrong address, is sent back to their meetings.
    response = await host.goto("/nowhere")
    assert response is not None and response.status == 404
    await goes_to_meeting_list(host)


async def test_the_host_controls_effects_speak_the_guests_language(new_context: NewContext) -> None:
    uk = catalog("uk")
    host, meeting_id = await host_in_new_meeting(new_context)
    guest = await join_guest(await new_context(locale="uk-UA"), meeting_id, "Оксана")
    guest_id = await participant_id(guest)
    await wait_for_tile(host, guest_id)
    await host.get_by_test_id("toggle-host-panel").click()
    status = guest.get_by_test_id("status")

    await row(host, guest_id, "mute-participant").click()
    ask = guest.get_by_test_id("request-unmute")
    await ask.wait_for(state="visible")
    assert await ask.inner_text() == uk["moderation.ask_unmute"]
    assert await status.inner_text() == uk["moderation.muted.audio"]
    await ask.click()
    await guest.wait_for_function(
        "(text) => document.querySelector('[data-testid=request-unmute]').textContent === text",
        arg=uk["moderation.asked"])

    await row(host, guest_id, "video-off-participant").click()
    ask_video = guest.get_by_test_id("request-video")
    await ask_video.wait_for(state="visible")
    assert await ask_video.inner_text() == uk["moderation.ask_camera"]
    assert await status.inner_text() == uk["moderation.muted.video"]

    await row(host, guest_id, "mute-participant").click()  # now "Allow mic"
    await guest.wait_for_function(
        "(text) => document.querySelector('[data-testid=status]').textContent === text",
        arg=uk["moderation.allowed.audio"])

    await host.get_by_test_id("lock-meeting").click()
    badge = guest.get_by_test_id("meeting-locked-badge")
    await badge.wait_for(state="visible")
    assert await badge.inner_text() == uk["moderation.locked_badge"]
    assert await badge.get_attribute("title") == uk["moderation.locked_badge_title"]
