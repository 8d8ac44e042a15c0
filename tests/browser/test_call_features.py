"""Host panel with live statistics, active speaker, screen share and recording, in one three-person call in
headless Chromium through the whole product (the media server records into a temporary RECORDINGS_DIR)."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page

from tests.gateway.gateway_process import GatewayProcess

from .conftest import ARTIFACTS, MEDIA_TIMEOUT, run_product, tile_selector, wait_for_frames
from .host_ui import Call, Person, keeps_growing, open_call, received_bytes, tile, until

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

QUALITIES = {"excellent", "good", "poor", "lost"}


@pytest.fixture(scope="module")
def recording_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path]]:
    """The product with the media server recording into a fresh directory (it inherits RECORDINGS_DIR)."""
    recordings = tmp_path_factory.mktemp("recordings")
    with run_product("call-features-product.log", {"RECORDINGS_DIR": str(recordings)}) as gateway:
        yield gateway, recordings


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def call(browser: Browser, recording_product: tuple[GatewayProcess, Path]) -> AsyncIterator[Call]:
    async with open_call(browser, recording_product[0], "call-features") as opened:
        yield opened


async def _stat(page: Page, pid: str, testid: str) -> float | None:
    cell = page.locator(f'[data-testid="stats-row"][data-participant-id="{pid}"] [data-testid="{testid}"]')
    value = await cell.get_attribute("data-value")
    return float(value) if value is not None else None


async def test_the_host_panel_shows_live_statistics_to_the_host_only(call: Call) -> None:
    host = call.host.page
    await host.get_by_test_id("host-panel").wait_for(state="visible")
    for guest in (call.ann, call.bo):
        assert await guest.page.get_by_test_id("host-panel").count() == 0, "guests get no host panel"
        assert await guest.page.get_by_test_id("call-stats").count() == 0
        assert not guest.messages("call_stats"), "the gateway sends statistics to the host only"

    stats = host.get_by_test_id("call-stats")
    await stats.wait_for(state="visible")
    for person in call.people:
        await stats.locator(f'[data-testid="stats-row"][data-participant-id="{person.id}"]').wait_for()
    duration = host.get_by_test_id("call-duration")
    first = await duration.text_content()
    await until("the call duration moves", lambda: _changed(duration, first), timeout=5)

    # Figures from the media server's RTCP view that move: Ann's downlink bitrate (she receives two people)
    # is live and differs between samples; the chart fills up.
    samples: list[float] = []

    async def bitrate_moved() -> bool:
        value = await _stat(host, call.ann.id, "stat-downlink-bitrate")
        if value is not None and (not samples or value != samples[-1]):
            samples.append(value)
        return len(samples) >= 2 and samples[-1] > 0

    await until("Ann's downlink bitrate changes", bitrate_moved, timeout=20)
    assert await _stat(host, call.ann.id, "stat-uplink-bitrate") not in (None, 0.0)
    assert await _stat(host, call.ann.id, "stat-rtt") is not None, "RTT from the receiver reports"
    assert await _stat(host, call.ann.id, "stat-loss") is not None
    assert await _stat(host, call.ann.id, "stat-jitter") is not None
    chart = host.locator(f'[data-testid="stats-row"][data-participant-id="{call.ann.id}"] .sparkline')
    assert int(await chart.get_attribute("data-samples") or 0) >= 2
    assert len(call.host.messages("call_stats")) >= 2

    # The connection quality level (connection_quality.js) is on every tile the host sees, its own included.
    for person in (call.ann, call.bo):
        assert await tile(host, person.id).get_attribute("data-quality") in QUALITIES
    assert await host.get_by_test_id("local-tile").get_attribute("data-quality") in QUALITIES
    quality = host.locator(f'[data-testid="participant-row"][data-participant-id="{call.bo.id}"] '
                           '[data-testid="participant-quality"]')
    assert await quality.get_attribute("data-quality") in QUALITIES


async def _changed(locator: Any, before: str | None) -> bool:
    return await locator.text_content() != before


# Ann's microphone becomes a loud continuous tone (WebAudio), so she is clearly the loudest speaker whatever
# Chromium's fake microphones do; the audio-level extension is computed by her browser from these samples.
TONE_JS = """
async () => {
  const context = new AudioContext();
  await context.resume();  // allowed: the page had a click (sticky user activation)
  const oscillator = context.createOscillator();
  const destination = context.createMediaStreamDestination();
  oscillator.connect(destination);
  oscillator.start();
  window.__tone = { context, oscillator };
  const [track] = destination.stream.getAudioTracks();
  const audio = window.meetingClient.publisher.getTransceivers().find((t) => t.receiver.track.kind === "audio");
  await audio.sender.replaceTrack(track);
  return context.state;
}
"""


async def test_the_active_speaker_is_highlighted(call: Call) -> None:
    await call.ann.page.locator("body").click(position={"x": 5, "y": 5})
    assert await call.ann.page.evaluate(TONE_JS) == "running"
    for person in call.people:
        await until(f"{person.id} highlights Ann", functools.partial(_highlighted, person, call.ann.id),
                    timeout=MEDIA_TIMEOUT / 1000)


async def _highlighted(person: Person, speaker: str) -> list[str] | None:
    """The tiles marked speaking on this page when that is exactly the speaker's tile, else None."""
    highlighted = await person.page.evaluate(
        """() => [...document.querySelectorAll('[data-speaking="true"]')].map(
                   (t) => t.dataset.testid === "local-tile" ? "local" : t.dataset.participantId)"""
    )
    return highlighted if highlighted == ["local" if speaker == person.id else speaker] else None


async def test_a_screen_share_is_shown_large_to_the_others_and_stopping_restores_the_grid(call: Call) -> None:
    ann = call.ann.page
    await ann.get_by_test_id("share-screen").click()
    await until("Ann's screen is published", lambda: _screen_announced(call, True))
    for viewer in (call.host.page, call.bo.page):
        screen = viewer.get_by_test_id("screen-share-tile")
        await screen.wait_for(state="visible", timeout=MEDIA_TIMEOUT)
        assert await screen.get_attribute("data-participant-id") == call.ann.id
        await viewer.wait_for_function(
            """() => { const v = document.querySelector('[data-testid="screen-share-tile"] video');
                       return v && v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 10; }""",
            timeout=MEDIA_TIMEOUT,
        )
        big = await screen.bounding_box()
        assert big is not None
        for person in call.people:
            if person.page is viewer:
                continue
            small = await tile(viewer, person.id).bounding_box()
            assert small is not None and big["width"] * big["height"] > 4 * small["width"] * small["height"], (
                "the share is the large tile"
            )
        # Ann's camera stays in her tile: the screen did not take its place.
        await wait_for_frames(viewer, call.ann.id, more=10)
        assert await viewer.evaluate(
            f"() => document.querySelector('{tile_selector(call.ann.id)} video').srcObject.getVideoTracks().length"
        ) == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await call.host.page.screenshot(path=str(ARTIFACTS / "screen-share-host.png"))

    await ann.get_by_test_id("share-screen").click()
    await until("Ann's screen is withdrawn", lambda: _screen_announced(call, False))
    for viewer in (call.host.page, call.bo.page):
        await viewer.get_by_test_id("screen-share-tile").wait_for(state="detached")
        assert "screen-sharing" not in (await viewer.get_by_test_id("participants-grid").get_attribute("class") or "")
        boxes = [await tile(viewer, person.id).bounding_box() for person in call.people if person.page is not viewer]
        assert all(box is not None and box["width"] > 200 for box in boxes), f"grid restored: {boxes}"

    # Sharing again reuses the stopped transceiver (m-lines are never removed): a new publication, shown again.
    shares_before = len(call.bo.messages("screen_share"))
    await ann.get_by_test_id("share-screen").click()
    await until("Ann's second share is published", lambda: _screen_announced(call, True, after=shares_before))
    await call.bo.page.get_by_test_id("screen-share-tile").wait_for(state="visible", timeout=MEDIA_TIMEOUT)
    await ann.get_by_test_id("share-screen").click()
    await call.bo.page.get_by_test_id("screen-share-tile").wait_for(state="detached")


async def _screen_announced(call: Call, active: bool, after: int = 0) -> bool:
    shares = [m for m in call.bo.messages("screen_share")[after:] if m["participant_id"] == call.ann.id]
    return bool(shares) and shares[-1]["active"] is active and shares[-1]["track_id"].startswith("screen-")


async def test_recording_writes_webm_files_with_audio_and_video(
    call: Call, recording_product: tuple[GatewayProcess, Path]
) -> None:
    recordings = recording_product[1]
    host = call.host.page
    await host.get_by_test_id("record-meeting").click()
    for person in call.people:
        await person.page.get_by_test_id("recording-indicator").wait_for(state="visible")
    started = time.monotonic()
    # About four seconds of media reach the server (and so the recorder): Bo keeps receiving Ann.
    for second in range(1, 5):
        await keeps_growing(lambda: received_bytes(call.bo.page, call.ann.id, "video"), "Ann's video at Bo")
        await until(f"{second} s of recording", functools.partial(_after, started, float(second)))
    await host.get_by_test_id("record-meeting").click()
    for person in call.people:
        await person.page.get_by_test_id("recording-indicator").wait_for(state="hidden")
    window = time.monotonic() - started

    manifests = list(recordings.glob(f"{call.meeting_id}-*/manifest.json"))
    assert len(manifests) == 1, list(recordings.rglob("*"))
    manifest = json.loads(manifests[0].read_text())
    files = {entry["participant_id"]: entry for entry in manifest["participants"]}
    assert set(files) == {person.id for person in call.people}, manifest
    for pid, entry in files.items():
        assert entry["file"], f"{pid} has no file: {entry}"
        _check_recording(manifests[0].parent / entry["file"], window)


async def _after(start: float, seconds: float) -> bool:
    return time.monotonic() - start >= seconds


def _check_recording(path: Path, window: float) -> None:
    with av.open(str(path)) as container:
        assert container.format.name in ("matroska,webm", "webm", "matroska"), container.format.name
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert (video.codec_context.name, audio.codec_context.name) == ("vp8", "opus")
        duration = float(container.duration or 0) / av.time_base
        # From the first keyframe to the stop: within the window the UI showed "Recording" (plus the
        # indicator's own latency), and at least the 4 s of media the test waited for, less a keyframe wait.
        assert 3.0 <= duration <= window + 1.0, f"{path.name}: {duration:.1f} s of a {window:.1f} s window"
        frames = 0
        for frame in container.decode(video=0):
            assert frame.width > 0
            frames += 1
        assert frames >= 30, f"{path.name}: only {frames} video frames decode"
    with av.open(str(path)) as container:
        assert sum(1 for _ in container.decode(audio=0)) >= 50, f"{path.name}: too little audio"
