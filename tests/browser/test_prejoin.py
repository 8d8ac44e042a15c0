"""Guest pre-join in Chromium: live preview, device pickers, camera off into the call, turned on in the call."""

from __future__ import annotations

import pytest

from .conftest import (
    ARTIFACTS,
    NewContext,
    grid_count,
    host_in_new_meeting,
    participant_id,
    tile_selector,
    wait_for_frames,
    wait_for_local_video,
    wait_for_tile,
)
from .ui import deny_media, open_prejoin, submit_join, wait_for_preview, wait_indicator

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

CAMERA_OFF = "camera-off-indicator"
MIC_OFF = "mic-off-indicator"


async def test_guest_joins_with_camera_off_then_turns_it_on(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    host_id = await participant_id(host)

    guest = await open_prejoin(await new_context(), meeting_id)
    await wait_for_preview(guest)
    # The pickers list the (fake) devices once permission is granted.
    for testid in ("camera-select", "mic-select"):
        select = guest.get_by_test_id(testid)
        await guest.wait_for_function(
            '(id) => { const s = document.querySelector(`[data-testid="${id}"]`); return !s.disabled && s.value; }',
            arg=testid,
        )
        assert await select.locator("option").count() >= 1
    await guest.screenshot(path=str(ARTIFACTS / "prejoin-preview.png"))

    await guest.get_by_test_id("toggle-camera").click()
    await guest.locator('[data-testid="toggle-camera"][data-state="off"]').wait_for()
    # Off means the camera is released, not just hidden: no live video track is left on the page.
    assert await guest.evaluate("() => window.prejoin.media.tracks.video === null")
    assert await guest.evaluate("() => document.querySelector('[data-testid=\"preview-video\"]').srcObject === null")
    assert await guest.get_by_test_id("toggle-mic").get_attribute("data-state") == "on"
    await submit_join(guest, meeting_id, "Gwen")
    guest_id = await participant_id(guest)

    # The choice carried into the call: camera off on the guest's own page and on the host's.
    assert await guest.get_by_test_id("toggle-camera").get_attribute("data-state") == "off"
    assert await guest.get_by_test_id("local-tile").get_by_test_id(CAMERA_OFF).is_visible()
    await wait_for_tile(host, guest_id)
    await wait_indicator(host, guest_id, CAMERA_OFF, visible=True)
    assert not await host.locator(f'{tile_selector(guest_id)} [data-testid="{MIC_OFF}"]').is_visible()
    assert await grid_count(host) == "2" == str(await host.locator(".participants-grid .tile").count())
    await host.screenshot(path=str(ARTIFACTS / "prejoin-host-sees-camera-off.png"))

    # Camera on in the call: a replaceTrack on the existing transceiver (no renegotiation), and the host sees video.
    offers_before = await guest.evaluate("() => window.meetingClient.publisher.localDescription.sdp")
    await guest.get_by_test_id("toggle-camera").click()
    await wait_for_local_video(guest)
    await wait_indicator(host, guest_id, CAMERA_OFF, visible=False)
    await wait_for_frames(host, guest_id, more=20)
    assert await guest.evaluate("() => window.meetingClient.publisher.localDescription.sdp") == offers_before

    # Only the self-view is mirrored.
    transforms = await host.evaluate(
        """(pid) => [document.querySelector('[data-testid="local-video"]'),
                     document.querySelector(`[data-participant-id="${pid}"] video`)]
                    .map((v) => getComputedStyle(v).transform)""",
        guest_id,
    )
    assert transforms[0].startswith("matrix(-1"), transforms
    assert transforms[1] == "none", transforms

    # Mic off in the call shows on the host's tile of the guest; the host's own tile on the guest's page too.
    await guest.get_by_test_id("toggle-mic").click()
    await wait_indicator(host, guest_id, MIC_OFF, visible=True)
    await host.get_by_test_id("toggle-mic").click()
    await wait_indicator(guest, host_id, MIC_OFF, visible=True)
    await host.screenshot(path=str(ARTIFACTS / "prejoin-host-sees-camera-on.png"))


async def test_a_guest_who_blocks_camera_and_microphone_still_joins(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    host_id = await participant_id(host)

    context = await new_context()
    await deny_media(context)
    guest = await open_prejoin(context, meeting_id)
    note = guest.get_by_test_id("media-note")
    await note.wait_for(state="visible")
    assert "blocked" in (await note.text_content() or "")
    assert await guest.get_by_test_id("toggle-camera").get_attribute("data-state") == "off"
    assert await guest.get_by_test_id("toggle-mic").get_attribute("data-state") == "off"
    await submit_join(guest, meeting_id, "No Media")
    guest_id = await participant_id(guest)

    await wait_for_tile(host, guest_id)
    await wait_indicator(host, guest_id, CAMERA_OFF, visible=True)
    await wait_indicator(host, guest_id, MIC_OFF, visible=True)
    # Without media of its own, the guest still receives the host.
    await wait_for_frames(guest, host_id, more=20)
    # Trying the camera again explains why it stays off.
    await guest.get_by_test_id("toggle-camera").click()
    status = guest.get_by_test_id("status")
    await status.filter(has_text="blocked").wait_for()
    assert await guest.get_by_test_id("toggle-camera").get_attribute("data-state") == "off"


# The pre-join page's devices take their time, as a slow camera (or Firefox) does; the call page's do not.
SLOW_DEVICES_JS = """
(() => {
  if (!location.pathname.startsWith("/join/")) return;
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (constraints) =>
    new Promise((resolve) => setTimeout(resolve, 2000)).then(() => real(constraints));
})();
"""


async def test_join_pressed_before_the_devices_opened_joins_with_what_was_chosen(new_context: NewContext) -> None:
    host, meeting_id = await host_in_new_meeting(new_context)
    context = await new_context()
    await context.add_init_script(SLOW_DEVICES_JS)
    guest = await open_prejoin(context, meeting_id)
    # Join the instant the page is there: the camera and microphone are still opening.
    assert await guest.evaluate("() => window.prejoin.media.state()") == {"audio": False, "video": False}
    await submit_join(guest, meeting_id, "Quick")
    guest_id = await participant_id(guest)
    await wait_for_local_video(guest)
    await wait_for_frames(host, guest_id)  # the host sees the quick guest's camera, not a black tile
    assert await guest.get_by_test_id("toggle-mic").get_attribute("data-state") == "on"
