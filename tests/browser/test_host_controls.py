"""The host's controls end to end in headless Chromium (host, Ann, Bo in one call): mute and video off stop
forwarding in the media server even when the guest's page re-enables its track, a guest's forged host
actions are refused, lock keeps newcomers out, remove keeps the guest out, end closes the meeting for all.

The tests share one call and run in file order: each leaves it usable for the next; remove and end come last.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.gateway.gateway_process import GatewayProcess

from .conftest import ARTIFACTS, UI_TIMEOUT, wait_for_frames, wait_for_tile_gone
from .host_ui import (
    Call,
    host_action_from,
    keeps_growing,
    open_call,
    received_bytes,
    row,
    sent_bytes,
    stays_flat,
    tile,
    until,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

# Replaces the page's (stopped) microphone on the publisher's audio sender, bypassing the disabled button:
# what a tampered client would do to keep talking after the host muted it.
FORCE_MIC_ON_JS = """
async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const [track] = stream.getAudioTracks();
  track.enabled = true;
  const audio = window.meetingClient.publisher.getTransceivers().find((t) => t.receiver.track.kind === "audio");
  await audio.sender.replaceTrack(track);
  return track.readyState;
}
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def call(browser: Browser, product: GatewayProcess) -> AsyncIterator[Call]:
    async with open_call(browser, product, "host-controls") as opened:
        yield opened


async def _button_disabled(page: Page, testid: str) -> bool:
    return await page.get_by_test_id(testid).is_disabled()


async def test_mute_stops_forwarding_even_if_the_guest_sends_anyway(call: Call) -> None:
    host, ann, bo = call.host.page, call.ann.page, call.bo.page

    async def ann_at_bo() -> int:
        return await received_bytes(bo, call.ann.id, "audio")

    await keeps_growing(ann_at_bo, "Ann's audio at Bo")
    await row(host, call.ann.id, "mute-participant").click()
    # Ann's page shows it: microphone off, its button disabled, a way to ask the host.
    await ann.get_by_test_id("request-unmute").wait_for(state="visible")
    assert await _button_disabled(ann, "toggle-mic")
    assert await ann.get_by_test_id("toggle-mic").get_attribute("data-state") == "off"
    await tile(bo, call.ann.id).locator('[data-testid="mic-off-indicator"]').wait_for(state="visible")
    assert await row(host, call.ann.id, "mute-participant").text_content() == "Allow mic"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await ann.screenshot(path=str(ARTIFACTS / "guest-muted-by-host.png"))

    # Ann's page puts a live microphone back on its sender: it sends, the media server forwards nothing.
    assert await ann.evaluate(FORCE_MIC_ON_JS) == "live"
    await keeps_growing(lambda: sent_bytes(ann, "audio"), "Ann's tampered page sending audio")
    await stays_flat(ann_at_bo, "Ann's audio at Bo while muted")

    # She asks; the host allows; the media server forwards again (her tampered track is still sending).
    await ann.get_by_test_id("request-unmute").click()
    await row(host, call.ann.id, "unmute-request").wait_for(state="visible")
    assert "unmute" in (await row(host, call.ann.id, "unmute-request").text_content() or "")
    await host.screenshot(path=str(ARTIFACTS / "host-panel-unmute-request.png"))
    await row(host, call.ann.id, "mute-participant").click()
    await until("Ann's mic button works again", lambda: _enabled(ann, "toggle-mic"))
    await ann.get_by_test_id("request-unmute").wait_for(state="hidden")
    await keeps_growing(ann_at_bo, "Ann's audio at Bo after the host allowed it")
    # Her own button turns her microphone on the ordinary way.
    await ann.get_by_test_id("toggle-mic").click()
    await until("Ann's mic is on", lambda: _state(ann, "toggle-mic", "on"))
    await tile(bo, call.ann.id).locator('[data-testid="mic-off-indicator"]').wait_for(state="hidden")


async def _enabled(page: Page, testid: str) -> bool:
    return await page.get_by_test_id(testid).is_enabled()


async def _state(page: Page, testid: str, state: str) -> bool:
    return await page.get_by_test_id(testid).get_attribute("data-state") == state


async def test_video_off_stops_forwarding_until_the_host_allows_it(call: Call) -> None:
    host, ann, bo = call.host.page, call.ann.page, call.bo.page

    async def bo_at_ann() -> int:
        return await received_bytes(ann, call.bo.id, "video")

    await keeps_growing(bo_at_ann, "Bo's video at Ann")
    await row(host, call.bo.id, "video-off-participant").click()
    await bo.get_by_test_id("request-video").wait_for(state="visible")
    assert await _button_disabled(bo, "toggle-camera")
    await tile(ann, call.bo.id).locator('[data-testid="camera-off-indicator"]').wait_for(state="visible")
    await stays_flat(bo_at_ann, "Bo's video at Ann while turned off")
    # Bo cannot start a screen share around it either: video is what is off (the server blocks it anyway).
    assert await _button_disabled(bo, "share-screen")

    await row(host, call.bo.id, "video-off-participant").click()
    await until("Bo's camera button works again", lambda: _enabled(bo, "toggle-camera"))
    await bo.get_by_test_id("toggle-camera").click()
    await until("Bo's camera is on", lambda: _state(bo, "toggle-camera", "on"))
    await wait_for_frames(ann, call.bo.id, more=20)


async def test_host_actions_forged_by_a_guest_are_refused_and_change_nothing(call: Call) -> None:
    host, ann, bo = call.host, call.ann, call.bo
    errors_before = len(bo.messages("error"))
    forged = [("mute", ann.id), ("video_off", host.id), ("kick", ann.id), ("lock", None), ("record_start", None),
              ("end", None)]  # fmt: skip
    for action, target in forged:
        await host_action_from(bo, action, target)

    async def all_refused() -> bool:
        return len(bo.messages("error")) - errors_before >= len(forged)

    await until("an error for every forged action", all_refused)
    assert {e["code"] for e in bo.messages("error")[errors_before:]} == {"forbidden"}
    # Nothing happened: Ann still heard, the host still seen, nobody locked out, removed, or recorded.
    await keeps_growing(lambda: received_bytes(host.page, ann.id, "audio"), "Ann's audio at the host")
    await keeps_growing(lambda: received_bytes(ann.page, host.id, "video"), "the host's video at Ann")
    assert len(host.messages("force_mute")) == 0 and len(ann.messages("force_mute")) == 1, "only the host's mute"
    for person in call.people:
        for kind in ("kicked", "meeting_ended", "meeting_locked", "recording"):
            assert not person.messages(kind), f"{kind} reached {person.id}"
    await (await _join_page_status(call, 200)).context.close()


async def _join_page_status(call: Call, status: int) -> Page:
    """Opens the guest link in a fresh profile (someone new); returns the page, whose context the caller closes."""
    browser = call.ann.context.browser
    assert browser is not None
    newcomer = await (await browser.new_context(base_url=call.product.base_url)).new_page()
    response = await newcomer.goto(f"/join/{call.meeting_id}")
    assert response is not None and response.status == status
    return newcomer


async def test_lock_turns_newcomers_away_and_keeps_everyone_inside(call: Call) -> None:
    host = call.host.page
    await host.get_by_test_id("lock-meeting").click()
    await until("the lock reaches the guests", lambda: _locked(call, True))
    await host.locator('[data-testid="lock-meeting"][aria-pressed="true"]').wait_for()
    await call.ann.page.get_by_test_id("meeting-locked-badge").wait_for(state="visible")

    newcomer = await _join_page_status(call, 403)
    try:
        assert await newcomer.get_by_test_id("message-title").text_content() == "Meeting locked"
        assert await newcomer.get_by_test_id("meeting-locked").is_visible()
        # Those inside stay and keep receiving each other.
        await keeps_growing(lambda: received_bytes(call.bo.page, call.ann.id, "video"), "Ann's video at Bo")

        await host.get_by_test_id("lock-meeting").click()
        await until("the unlock reaches the guests", lambda: _locked(call, False))
        response = await newcomer.goto(f"/join/{call.meeting_id}")
        assert response is not None and response.status == 200
    finally:
        await newcomer.context.close()


async def _locked(call: Call, locked: bool) -> bool:
    states = [m["locked"] for m in call.ann.messages("meeting_locked")]
    return bool(states) and states[-1] is locked


async def test_removing_a_guest_closes_its_call_and_keeps_it_out(call: Call) -> None:
    host, ann, bo = call.host.page, call.ann.page, call.bo.page
    welcome = call.bo.messages("welcome")[-1]
    await row(host, call.bo.id, "kick-participant").click()
    await bo.get_by_test_id("kicked").wait_for(state="visible")
    for page in (host, ann):
        await wait_for_tile_gone(page, call.bo.id)
    await until("Bo's media connections are closed", lambda: _closed(bo))

    # The same cookie, and Bo's reconnect token, are refused; the page says why.
    refused = await bo.evaluate(
        """async ([meeting, token]) => new Promise((resolve) => {
             const ws = new WebSocket(`ws://${location.host}/ws?meeting=${meeting}&reconnect=${token}`);
             let error = null;
             ws.onmessage = (event) => { error = JSON.parse(event.data); };
             ws.onclose = (event) => resolve({error, code: event.code});
           })""",
        [call.meeting_id, welcome["reconnect_token"]],
    )
    assert refused["error"]["code"] == "kicked" and refused["code"] == 4405, refused
    await bo.goto(f"/room/{call.meeting_id}")
    assert await bo.get_by_test_id("kicked").is_visible()
    await bo.goto(f"/join/{call.meeting_id}")
    assert await bo.get_by_test_id("kicked").is_visible()
    # The others carry on.
    await keeps_growing(lambda: received_bytes(ann, call.host.id, "audio"), "the host's audio at Ann")


async def _closed(page: Page) -> bool:
    return bool(await page.evaluate("() => window.meetingClient.publisher.connectionState === 'closed'"))


async def test_ending_the_meeting_closes_it_for_everyone(call: Call) -> None:
    host, ann = call.host.page, call.ann.page
    await host.get_by_test_id("end-meeting").click()
    await host.get_by_test_id("confirm-end-meeting").click()
    for page in (host, ann):
        await page.get_by_test_id("meeting-ended").wait_for(state="visible", timeout=UI_TIMEOUT)
        assert await page.evaluate("() => window.meetingClient.subscriber.connectionState") == "closed"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await ann.screenshot(path=str(ARTIFACTS / "meeting-ended-guest.png"))
    # The link now says the meeting has ended, to everyone (the host's own link too).
    for page in (ann, host):
        response = await page.goto(f"/join/{call.meeting_id}")
        assert response is not None and response.status == 410
        assert await page.get_by_test_id("meeting-ended").is_visible()
        assert re.search(r"ended", await page.get_by_test_id("message-text").text_content() or "")
