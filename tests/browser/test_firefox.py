"""Firefox as a first-class client (Debian's firefox-esr, headless, over Marionette) with Chromium, on a
non-loopback address (Firefox never pairs its interface addresses with a 127.0.0.1 server candidate)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, async_playwright

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
from .firefox import FirefoxPage, firefox, firefox_installed
from .reconnect_rig import product_on, secure_origin_args

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.skipif(not firefox_installed(), reason="needs firefox-esr and marionette_driver (scripts/test)"),
    pytest.mark.skipif(not netns_available(), reason="needs root and ip netns (a non-loopback test address)"),
]

# Firefox's view of a remote participant's video, as STATS_JS gives Chromium's.
FIREFOX_FRAMES_JS = "const [pid, resolve] = arguments; (" + STATS_JS + ")(pid).then(resolve);"


@pytest.fixture(scope="module")
def product() -> Iterator[GatewayProcess]:
    # Only an address of our own is needed (both browsers stay in this namespace).
    with BrowserNetwork(34) as network, product_on(network, "firefox-product.log") as gateway:
        yield gateway


def firefox_frames(page: FirefoxPage, pid: str, more: int = 30, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    first = None
    while time.monotonic() < deadline:
        stats = page.js_async(FIREFOX_FRAMES_JS, pid) or {}
        decoded = int(stats.get("framesDecoded") or 0)
        if decoded > 0 and first is None:
            first = decoded
        if first is not None and decoded >= first + more:
            return decoded
        time.sleep(0.3)
    raise AssertionError(f"Firefox decoded no video of {pid}: {page.js_async(FIREFOX_FRAMES_JS, pid)}")


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


def firefox_guest_joins_at_once(base_url: str, meeting_id: str, steps: dict[str, object]) -> None:
    with firefox() as client:
        page = FirefoxPage(client)
        page.go(f"{base_url}/join/{meeting_id}")
        page.wait("return window.prejoin")  # prejoin.js is running (its devices still opening)
        page.fill("guest-name", "Fox")
        page.click("join-submit")  # at once: Firefox opens its devices slowly
        steps["pid"] = page.wait("return window.meetingClient && window.meetingClient.participantId")
        while "host" not in steps:
            time.sleep(0.1)
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
            host = await (await chromium.new_context(base_url=product.base_url,
                                                     permissions=["camera", "microphone"])).new_page()
            await login_host(host)
            meeting_id = await create_meeting(host)
            steps["host"] = await participant_id(host)
            guest = asyncio.get_running_loop().run_in_executor(
                None, firefox_guest_joins_at_once, product.base_url, meeting_id, steps)
            await step_done(steps, "pid", guest, 60, "Firefox never joined")
            await wait_for_frames(host, str(steps["pid"]))
            await step_done(steps, "firefox_decoded", guest, 60, "Firefox decoded nothing")
            assert bound_rids(product, str(steps["pid"])) >= {"q", "h"}  # bound by rid, not as one plain layer
        finally:
            steps["done"] = True
            await chromium.close()
        await guest


def firefox_host(base_url: str, steps: dict[str, object]) -> None:
    with firefox() as client:
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
        while "guest" not in steps:
            time.sleep(0.1)
        steps["firefox_decoded"] = firefox_frames(page, str(steps["guest"]))
        while "done" not in steps:
            time.sleep(0.1)


async def test_a_chromium_guest_and_a_firefox_host_see_each_other(product: GatewayProcess) -> None:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=secure_origin_args(product.base_url))
        steps: dict[str, object] = {}
        host = asyncio.get_running_loop().run_in_executor(None, firefox_host, product.base_url, steps)
        try:
            await step_done(steps, "meeting", host, 90, "the Firefox host never entered")
            context = await chromium.new_context(base_url=product.base_url, permissions=["camera", "microphone"])
            guest = await join_guest(context, str(steps["meeting"]), "Chromium guest")
            steps["guest"] = await participant_id(guest)
            await wait_for_frames(guest, str(steps["pid"]))
            await step_done(steps, "firefox_decoded", host, 60, "Firefox decoded nothing")
        finally:
            steps["done"] = True
            await chromium.close()
        await host
