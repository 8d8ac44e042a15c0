"""Firefox as a first-class client (Debian's firefox-esr, headless, over Marionette) with Chromium, on a
non-loopback address (Firefox never pairs its interface addresses with a 127.0.0.1 server candidate)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Page, async_playwright

from tests.gateway.gateway_process import GatewayProcess
from tests.netns import BrowserNetwork, netns_available

from .conftest import (
    CHROMIUM,
    HOST_PASSWORD,
    STATS_JS,
    create_meeting,
    join_guest,
    login_host,
    participant_id,
    wait_for_frames,
)
from .firefox import FirefoxPage, firefox, firefox_installed, xvfb, xvfb_installed
from .host_ui import row, tile
from .reconnect_rig import product_on, secure_origin_args
from .test_codecs import INBOUND_CODEC_JS
from .test_process_restarts import media_server_pid
from .test_simulcast import fill_grid, media_control, pin, until, video_subscription

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not firefox_installed(), reason="needs firefox-esr and marionette_driver (scripts/test)"),
    pytest.mark.skipif(not netns_available(), reason="needs root and ip netns (a non-loopback test address)"),
]

# Firefox's view of a remote participant's video, as STATS_JS gives Chromium's.
FIREFOX_FRAMES_JS = "const [pid, resolve] = arguments; (" + STATS_JS + ")(pid).then(resolve);"
# The same for the large tile of a participant's screen share, in Firefox and in Chromium.
FIREFOX_SCREEN_JS = "const [pid, resolve] = arguments; (" + STATS_JS + ")(pid, 'screen-share-tile').then(resolve);"
SCREEN_STATS_JS = "(pid) => (" + STATS_JS + ")(pid, 'screen-share-tile')"


@pytest.fixture(scope="module")
def product() -> Iterator[GatewayProcess]:
    # Only an address of our own is needed (both browsers stay in this namespace).
    with BrowserNetwork(34) as network, product_on(network, "firefox-product.log") as gateway:
        yield gateway


async def chromium_host(chromium: Browser, product: GatewayProcess, query: str = "") -> tuple[Page, str, str]:
    """The host in Chromium, in a meeting of its own (`query`: call-page options such as ?codec=h264): the page,
    the meeting id and the host's participant id."""
    context = await chromium.new_context(base_url=product.base_url, permissions=["camera", "microphone"])
    host = await context.new_page()
    await login_host(host)
    meeting_id = await create_meeting(host)
    if query:
        await host.goto(f"/room/{meeting_id}{query}")
    return host, meeting_id, await participant_id(host)


def join_at_once(page: FirefoxPage, base_url: str, meeting_id: str) -> str:
    """Join as the guest "Fox", clicking Join as soon as the page runs; returns the participant id."""
    page.go(f"{base_url}/join/{meeting_id}")
    # prejoin.js is running (its devices still opening); not the object itself: its mic meter's AudioContext
    # cannot be sent back over marionette.
    page.wait("return window.prejoin !== undefined")
    page.fill("guest-name", "Fox")
    page.click("join-submit")  # at once: Firefox opens its devices slowly
    return str(page.wait("return window.meetingClient && window.meetingClient.participantId"))


def until_step(steps: dict[str, object], key: str) -> None:
    """In the Firefox thread: wait for the test to reach `key`; give up once the test has ended (it failed)."""
    while key not in steps:
        if "done" in steps:
            raise RuntimeError(f"the test ended before {key!r}")
        time.sleep(0.1)


def firefox_frames(page: FirefoxPage, pid: str, more: int = 30, timeout: float = 30.0,
                   script: str = FIREFOX_FRAMES_JS) -> int:
    """`more` frames of `pid`'s camera decoded in Firefox (or of its screen share, with FIREFOX_SCREEN_JS)."""
    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline:
        stats = page.js_async(script, pid) or {}
        decoded = int(stats.get("framesDecoded") or 0)
        if decoded > 0 and first is None:
            first = decoded
        if first is not None and decoded >= first + more:
            return decoded
        time.sleep(0.3)
    raise AssertionError(f"Firefox decoded no video of {pid}: {page.js_async(script, pid)}")


def bound_rids(product: GatewayProcess, pid: str) -> set[str]:
    rids = set()
    for line in product.log().splitlines():
        if '"ssrc_bound"' in line and pid in line:
            rid = json.loads(line).get("rid")
            if rid:
                rids.add(rid)
    return rids


async def step_done(steps: dict[str, object], key: str, driver: asyncio.Future[None], timeout: float,
                    what: str) -> None:
    """Wait for the Firefox thread to reach `key`; its own failure, if any, is what gets raised."""
    deadline = time.monotonic() + timeout
    while key not in steps:
        if driver.done():
            await driver
            raise AssertionError(f"{what}: Firefox stopped early")
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.2)


async def firefox_layers_follow_the_tile(product: GatewayProcess, viewer: Page, meeting_id: str, viewer_id: str,
                                        fox: str) -> None:
    """A small Firefox tile gets Firefox's q layer; pinned, its f layer."""
    async with media_control(product) as media:
        async def on_layer(layer: int) -> bool:
            sub = await video_subscription(media, meeting_id, viewer_id, fox)
            return bool(sub["layer"] == layer and sub["packets_sent"] > 0)

        await fill_grid(viewer, 20)
        await until("q for a small Firefox tile", lambda: on_layer(0), 20)
        await pin(viewer, fox)
        await until("f for the pinned Firefox tile", lambda: on_layer(2), 15)
        layers = next(p for p in (await media.stats(meeting_id))["rooms"][meeting_id][fox]["publications"]
                      if p["kind"] == "video")["layers"]
        widths = [layer["width"] for layer in layers]
        assert [layer["rid"] for layer in layers] == ["q", "h", "f"] and widths == sorted(widths) and widths[0] > 0


def firefox_guest_joins_at_once(base_url: str, meeting_id: str, steps: dict[str, object]) -> None:
    with firefox() as client:
        page = FirefoxPage(client)
        steps["pid"] = join_at_once(page, base_url, meeting_id)
        until_step(steps, "host")
        steps["firefox_decoded"] = firefox_frames(page, str(steps["host"]))
        while "done" not in steps:
            time.sleep(0.1)


async def test_a_firefox_guest_and_a_chromium_host_see_each_other_and_firefox_sends_simulcast(
    product: GatewayProcess,
) -> None:
    async with async_playwright() as playwright:
        chromium: Browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                             args=secure_origin_args(product.base_url))
        steps: dict[str, object] = {}
        try:
            host, meeting_id, steps["host"] = await chromium_host(chromium, product)
            guest = asyncio.get_running_loop().run_in_executor(
                None, firefox_guest_joins_at_once, product.base_url, meeting_id, steps)
            await step_done(steps, "pid", guest, 60, "Firefox never joined")
            await wait_for_frames(host, str(steps["pid"]))
            await step_done(steps, "firefox_decoded", guest, 60, "Firefox decoded nothing")
            fox = str(steps["pid"])
            # Bound by rid, not as one plain layer. Awaited: 4 of 10 runs had only q (or q and h) in the log at
            # Firefox's first 30 decoded frames, all three a moment later.
            async def all_rids_bound() -> bool:
                return bound_rids(product, fox) == {"q", "h", "f"}

            await until("Firefox's q, h and f bound", all_rids_bound, 20)
            await firefox_layers_follow_the_tile(product, host, meeting_id, str(steps["host"]), fox)
        finally:
            steps["done"] = True
            await chromium.close()
        await guest


def firefox_host(base_url: str, display: str, steps: dict[str, object]) -> None:
    with firefox(display, urlsplit(base_url).hostname) as client:
        page = FirefoxPage(client)
        page.go(f"{base_url}/login")
        page.fill("login-username", "host")
        page.fill("login-password", HOST_PASSWORD)
        page.click("login-submit")
        page.wait("return location.pathname === '/' && window.homePage")  # home.js has wired the buttons
        page.click("create-meeting")
        # The share panel's Enter link points at the new room once the meeting exists.
        page.wait("return document.getElementById('share-enter').getAttribute('href').startsWith('/room/')")
        page.js("document.getElementById('share-enter').click()")
        steps["pid"] = page.wait("return window.meetingClient && window.meetingClient.participantId")
        steps["meeting"] = page.js("return location.pathname.split('/').pop()")
        until_step(steps, "guest")
        steps["firefox_decoded"] = firefox_frames(page, str(steps["guest"]))
        page.press("share-screen")  # Xvfb's screen, picked without a prompt (permission prefs)
        until_step(steps, "firefox_share_seen")
        page.press("share-screen")  # stop
        until_step(steps, "chromium_sharing")
        steps["firefox_sees_share"] = firefox_frames(page, str(steps["guest"]), more=10, script=FIREFOX_SCREEN_JS)
        while "done" not in steps:
            time.sleep(0.1)


@pytest.mark.skipif(not xvfb_installed(), reason="needs Xvfb: headless Firefox has no screen to share")
async def test_a_chromium_guest_and_a_firefox_host_see_each_other_and_each_others_screen(
    product: GatewayProcess,
) -> None:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=secure_origin_args(product.base_url))
        steps: dict[str, object] = {}
        with xvfb() as display:
            host = asyncio.get_running_loop().run_in_executor(None, firefox_host, product.base_url, display, steps)
            try:
                await step_done(steps, "meeting", host, 90, "the Firefox host never entered")
                context = await chromium.new_context(base_url=product.base_url,
                                                     permissions=["camera", "microphone"])
                guest = await join_guest(context, str(steps["meeting"]), "Chromium guest")
                steps["guest"] = await participant_id(guest)
                await wait_for_frames(guest, str(steps["pid"]))
                await step_done(steps, "firefox_decoded", host, 60, "Firefox decoded nothing")

                # Firefox shares its screen: the Chromium guest shows it large, beside Firefox's camera.
                await until("Chromium shows Firefox's screen", lambda: _screen_frames(guest, str(steps["pid"]), 10), 45)
                await wait_for_frames(guest, str(steps["pid"]), more=10)
                steps["firefox_share_seen"] = True
                await guest.get_by_test_id("screen-share-tile").wait_for(state="detached", timeout=20_000)

                # And the other way: Chromium's (fake) screen in Firefox.
                await guest.get_by_test_id("share-screen").click()
                steps["chromium_sharing"] = True
                await step_done(steps, "firefox_sees_share", host, 45, "Firefox never showed Chromium's screen")
            finally:
                steps["done"] = True
                await chromium.close()
            await host


async def _screen_frames(page: Page, pid: str, more_than: int) -> bool:
    stats = await page.evaluate(SCREEN_STATS_JS, pid) or {}
    return bool(stats.get("videoWidth") and stats.get("framesDecoded", 0) > more_than)


# --- codecs: Debian's Firefox decodes no H.264 (it would fetch OpenH264 at run time) -------------------------


@pytest.fixture(scope="module")
def h264_room_product() -> Iterator[GatewayProcess]:
    """Meetings that prefer H.264: publishers are asked for VP8 only when someone cannot decode H.264."""
    with BrowserNetwork(35) as network, product_on(network, "firefox-h264-product.log",
                                                    {"VIDEO_CODECS": "H264,VP8"}) as gateway:
        yield gateway


UNAVAILABLE_JS = """
const tile = document.querySelector(`[data-testid="participant-tile"][data-participant-id="${arguments[0]}"]`);
const note = tile && tile.querySelector('[data-testid="tile-unavailable"]');
return note && tile.dataset.unavailable ? note.textContent : null;
"""


def firefox_guest_beside_h264(base_url: str, meeting_id: str, steps: dict[str, object]) -> None:
    with firefox() as client:
        page = FirefoxPage(client)
        steps["pid"] = join_at_once(page, base_url, meeting_id)
        steps["notice"] = page.wait(UNAVAILABLE_JS, 30, str(steps["host"]))
        steps["cam_decoded"] = firefox_frames(page, str(steps["cam"]), timeout=45)
        steps["cam_codec"] = page.js_async(
            "const [pid, resolve] = arguments; (" + INBOUND_CODEC_JS + ")(pid).then(resolve);", str(steps["cam"]))
        while "done" not in steps:
            time.sleep(0.1)


async def test_firefox_gets_a_placeholder_for_an_h264_only_camera_and_vp8_from_a_camera_that_can_switch(
    h264_room_product: GatewayProcess,
) -> None:
    product = h264_room_product
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=secure_origin_args(product.base_url))
        steps: dict[str, object] = {}
        try:
            host, meeting_id, steps["host"] = await chromium_host(chromium, product, "?codec=h264")  # an iPhone
            cam_context = await chromium.new_context(base_url=product.base_url,
                                                     permissions=["camera", "microphone"])
            cam = await join_guest(cam_context, meeting_id, "Cam")  # Chromium: VP8 and H.264, sends H.264 here
            steps["cam"] = await participant_id(cam)
            await wait_for_frames(host, str(steps["cam"]))
            assert await host.evaluate(INBOUND_CODEC_JS, steps["cam"]) == "video/H264"
            guest = asyncio.get_running_loop().run_in_executor(
                None, firefox_guest_beside_h264, product.base_url, meeting_id, steps)
            await step_done(steps, "notice", guest, 90, "Firefox showed no placeholder for the H.264-only camera")
            assert "H264" in str(steps["notice"])
            await step_done(steps, "cam_codec", guest, 90, "Firefox never decoded Cam, asked to send VP8")
            assert steps["cam_codec"] == "video/VP8"
            await wait_for_frames(host, str(steps["pid"]))  # Firefox's own camera reaches the others
            await wait_for_frames(cam, str(steps["pid"]))
        finally:
            steps["done"] = True
            await chromium.close()
        await guest


# --- a Firefox guest under host controls, recorded, and through a media server crash --------------------------


@pytest.fixture(scope="module")
def crash_product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path]]:
    recordings = tmp_path_factory.mktemp("firefox-recordings")
    with BrowserNetwork(36) as network, product_on(network, "firefox-crash-product.log",
                                                    {"RECORDINGS_DIR": str(recordings)}) as gateway:
        yield gateway, recordings


# Muted by the host: the microphone button is off and cannot be turned on (only asked for).
MUTED_JS = """
const button = document.querySelector('[data-testid="toggle-mic"]');
return Boolean(button && button.dataset.state === "off" && button.disabled);
"""


def firefox_guest_under_control(base_url: str, meeting_id: str, steps: dict[str, object]) -> None:
    with firefox() as client:
        page = FirefoxPage(client)
        steps["pid"] = join_at_once(page, base_url, meeting_id)
        page.js("window.__sameDocument = true;")
        firefox_frames(page, str(steps["host"]))
        steps["decoding"] = True
        until_step(steps, "muting")
        # The host mutes Fox: the page shows it (mic off, its button disabled, a way to ask).
        steps["muted_state"] = page.wait(MUTED_JS, 30)
        steps["request_unmute"] = page.wait(
            "const b = document.querySelector('[data-testid=\"request-unmute\"]'); return b && !b.hidden", 10)
        until_step(steps, "crashed")
        steps["decoding_again"] = firefox_frames(page, str(steps["host"]), timeout=45)
        steps["same_document"] = page.js("return window.__sameDocument === true")
        while "done" not in steps:
            time.sleep(0.1)


async def test_a_firefox_guest_is_muted_by_the_host_recorded_and_comes_back_after_a_media_server_crash(
    crash_product: tuple[GatewayProcess, Path],
) -> None:
    product, recordings = crash_product
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=secure_origin_args(product.base_url))
        steps: dict[str, object] = {}
        guest = None
        try:
            host, meeting_id, steps["host"] = await chromium_host(chromium, product)
            guest = asyncio.get_running_loop().run_in_executor(
                None, firefox_guest_under_control, product.base_url, meeting_id, steps)
            await step_done(steps, "decoding", guest, 90, "Firefox never decoded the host")
            fox = str(steps["pid"])
            await wait_for_frames(host, fox)

            await host.get_by_test_id("toggle-host-panel").click()  # the host panel starts closed
            await host.get_by_test_id("host-panel").wait_for(state="visible")
            await host.get_by_test_id("record-meeting").click()
            await host.get_by_test_id("recording-indicator").wait_for(state="visible")
            await wait_for_frames(host, fox, more=60)  # two seconds of Firefox's media reach the recorder
            await host.get_by_test_id("record-meeting").click()
            await host.get_by_test_id("recording-indicator").wait_for(state="hidden")
            await until("the recording's manifest", lambda: _manifest(recordings, meeting_id), 20)
            manifest = await _manifest(recordings, meeting_id)
            assert manifest is not None
            tracks = {t["kind"]: t["frames"] for p in manifest["participants"] if p["participant_id"] == fox
                      for t in p["tracks"]}
            assert tracks.get("video", 0) > 30 and tracks.get("audio", 0) > 50, manifest

            steps["muting"] = True
            await row(host, fox, "mute-participant").click()
            await step_done(steps, "request_unmute", guest, 30, "Firefox never showed it was muted")
            await tile(host, fox).locator('[data-testid="mic-off-indicator"]').wait_for(state="visible")

            os.kill(media_server_pid(product), signal.SIGKILL)
            steps["crashed"] = True
            await step_done(steps, "decoding_again", guest, 90, "Firefox decoded nothing after the crash")
            assert steps["same_document"] is True  # it reconnected by itself, no reload
            await wait_for_frames(host, fox)
        finally:
            steps["done"] = True
            await chromium.close()
        if guest is not None:
            await guest


async def _manifest(recordings: Path, meeting_id: str) -> dict[str, Any] | None:
    found = list(recordings.glob(f"{meeting_id}-*/manifest.json"))
    return json.loads(found[0].read_text()) if found else None
