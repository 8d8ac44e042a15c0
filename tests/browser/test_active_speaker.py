"""Active speaker with real speech: espeak-ng voices through Chromium's fake microphones, highlighted within 1 s."""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from tests.gateway.gateway_process import GatewayProcess

from .conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    MEDIA_TIMEOUT,
    UI_TIMEOUT,
    create_meeting,
    join_guest,
    login_host,
)
from .host_ui import until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (scripts/test installs it)"),
]

LOOP_S = 10.0  # each file's length: Chromium loops it, so the two speakers take turns
HIGHLIGHT_WITHIN_S = 1.0
WATCH_S = 32.0

# Runs in each page: every 50 ms, the page's own microphone level (the publisher's media-source stats: what it
# captures, before any network) and which remote tiles are highlighted, on the wall clock the two pages share.
SAMPLER_JS = """
() => {
  window.speakerSamples = [];
  setInterval(async () => {
    const client = window.meetingClient;
    if (!client || !client.publisher) return;
    let level = 0;
    const report = await client.publisher.getStats();
    report.forEach((r) => { if (r.type === "media-source" && r.kind === "audio") level = r.audioLevel || 0; });
    const speaking = [...document.querySelectorAll('[data-testid="participant-tile"][data-speaking="true"]')]
      .map((tile) => tile.dataset.participantId);
    const bars = {};
    for (const tile of document.querySelectorAll('[data-testid="participant-tile"]')) {
      bars[tile.dataset.participantId] = Number(tile.querySelector('[data-testid="sound-bars"]')?.dataset.level);
    }
    const local = document.querySelector('[data-testid="local-tile"] [data-testid="sound-bars"]');
    window.speakerSamples.push({t: Date.now() / 1000, level, speaking, bars, localBars: Number(local?.dataset.level)});
  }, 50);
}
"""


def _speech_file(directory: Path, name: str, text: str, silence_before_s: float) -> Path:
    """`text` spoken by espeak-ng, placed `silence_before_s` into a LOOP_S-long mono 16-bit WAV."""
    spoken = directory / f"{name}-speech.wav"
    subprocess.run(["espeak-ng", "-v", "uk", "-s", "150", "-w", str(spoken), text], check=True, capture_output=True)
    with wave.open(str(spoken), "rb") as source:
        rate, width, frames = source.getframerate(), source.getsampwidth(), source.readframes(source.getnframes())
    assert width == 2 and len(frames) / (rate * width) < LOOP_S - silence_before_s - 0.5, "speech too long"
    before = b"\0" * (int(silence_before_s * rate) * width)
    after = b"\0" * (int(LOOP_S * rate) * width - len(before) - len(frames))
    path = directory / f"{name}.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(before + frames + after)
    return path


@pytest_asyncio.fixture(loop_scope="session")
async def speaking_browsers(tmp_path: Path) -> AsyncIterator[tuple[Browser, Browser]]:
    # Each speaker talks for ~3.5 s of the 10-s loop, in the other's silence.
    host_file = _speech_file(tmp_path, "host", "Доброго ранку. Сьогодні ми говоримо про план.", 0.5)
    guest_file = _speech_file(tmp_path, "guest", "Дякую, я все чую. Почнімо з першого пункту.", 5.5)
    async with async_playwright() as playwright:
        browsers = [
            await playwright.chromium.launch(
                executable_path=CHROMIUM,
                # Sound plays as after a person's click on Join (a test's click is not a user gesture to Chromium):
                # the received level the sound bars show is measured on the audio being played.
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={path}",
                      "--autoplay-policy=no-user-gesture-required"],
            )
            for path in (host_file, guest_file)
        ]
        try:
            yield browsers[0], browsers[1]
        finally:
            for browser in browsers:
                await browser.close()


def _onset_latencies(own: list[dict], listener: list[dict], speaker: str) -> list[float]:
    """For each time the speaker's microphone wakes after >= 1 s of quiet (their own page's samples) while the
    listener does not highlight them: seconds until the listener's page does (inf if it never does)."""
    latencies: list[float] = []
    quiet_since: float | None = None
    for sample in own:
        if sample["level"] < 0.01:
            quiet_since = sample["t"] if quiet_since is None else quiet_since
            continue
        if sample["level"] > 0.05 and quiet_since is not None and sample["t"] - quiet_since >= 1.0:
            before = [s for s in listener if s["t"] <= sample["t"]]
            if before and speaker not in before[-1]["speaking"]:
                later = [s["t"] for s in listener if s["t"] > sample["t"] and speaker in s["speaking"]]
                latencies.append(later[0] - sample["t"] if later else float("inf"))
        quiet_since = None
    return latencies


async def _watch(page: Page) -> None:
    await page.evaluate(SAMPLER_JS)


async def test_the_speakers_tile_is_highlighted_within_a_second_of_their_voice(
    speaking_browsers: tuple[Browser, Browser], product: GatewayProcess
) -> None:
    host_browser, guest_browser = speaking_browsers
    contexts = [
        await browser.new_context(base_url=product.base_url, permissions=["camera", "microphone"])
        for browser in (host_browser, guest_browser)
    ]
    try:
        for context in contexts:
            context.set_default_timeout(UI_TIMEOUT)
        host = await contexts[0].new_page()
        await login_host(host)
        meeting_id = await create_meeting(host)
        guest = await join_guest(contexts[1], meeting_id, "Olena")
        ids = {}
        for name, page in (("host", host), ("guest", guest)):
            await page.wait_for_function("() => window.meetingClient && window.meetingClient.participantId",
                                         timeout=MEDIA_TIMEOUT)
            ids[name] = await page.evaluate("() => window.meetingClient.participantId")
        for page, other in ((host, ids["guest"]), (guest, ids["host"])):
            await page.wait_for_function(
                """(pid) => document.querySelector(
                       `[data-testid="participant-tile"][data-participant-id="${pid}"] video`)?.srcObject""",
                arg=other, timeout=MEDIA_TIMEOUT)
            await _watch(page)
        await until("both have watched two full turns", lambda: _watched(host, WATCH_S), timeout=WATCH_S + 10)
        host_view = await host.evaluate("() => window.speakerSamples")
        guest_view = await guest.evaluate("() => window.speakerSamples")
    finally:
        for context in contexts:
            await context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    samples = {"host_view": host_view, "guest_view": guest_view}
    (ARTIFACTS / "active_speaker_samples.json").write_text(json.dumps(samples))
    guest_onsets = _onset_latencies(guest_view, host_view, ids["guest"])
    host_onsets = _onset_latencies(host_view, guest_view, ids["host"])
    print(f"highlight latency: guest seen by host {guest_onsets}, host seen by guest {host_onsets}")
    assert len(guest_onsets) >= 2 and len(host_onsets) >= 2, "each speaker took at least two turns"
    assert max(guest_onsets + host_onsets) <= HIGHLIGHT_WITHIN_S
    # Sound bars: lit on the speaker's tile at their listener while they talk, dark while both are quiet.
    for own, listener, speaker in ((guest_view, host_view, ids["guest"]), (host_view, guest_view, ids["host"])):
        loud, quiet = _bars_while(own, listener, speaker)
        assert loud and max(loud) >= 2, f"bars while {speaker} talks: {loud}"
        assert quiet and max(quiet) == 0, f"bars while {speaker} is quiet: {quiet}"
        assert max(s["localBars"] for s in own) >= 2, "one's own tile shows one's own microphone"


def _bars_while(own: list[dict], listener: list[dict], speaker: str) -> tuple[list[int], list[int]]:
    """The listener's bars on the speaker's tile in the middle of the speaker's speech and of long silences."""
    loud: list[int] = []
    quiet: list[int] = []
    for sample in listener:
        if speaker not in sample["bars"]:
            continue
        # The speaker's microphone 0.3 s earlier (the audio's way there and the 150-ms poll), in their own samples.
        around = [s["level"] for s in own if sample["t"] - 0.6 <= s["t"] <= sample["t"] - 0.2]
        if around and min(around) > 0.1:
            loud.append(sample["bars"][speaker])
        earlier = [s["level"] for s in own if sample["t"] - 1.5 <= s["t"] <= sample["t"]]
        if len(earlier) > 10 and max(earlier) < 0.005:
            quiet.append(sample["bars"][speaker])
    return loud, quiet


async def _watched(page: Page, seconds: float) -> bool:
    return bool(await page.evaluate(
        "(s) => window.speakerSamples.length > 0 && "
        "window.speakerSamples.at(-1).t - window.speakerSamples[0].t >= s", seconds))
