"""The rig for the reconnect tests: the product on a namespace address, a host browser beside it and a guest
browser inside the namespace, plus the page probes (events seen, connection state, time to media)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.gateway.gateway_process import GatewayProcess, free_tcp_port, free_udp_port
from tests.netns import BrowserNetwork

from .conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, DEFAULT_VIEWPORT, STATS_JS, UI_TIMEOUT, run_product

# What each page saw of the others, from the first welcome on: a leave or a join of someone already there
# is what a resume must never show.
RECORD_EVENTS_JS = """
() => {
  const c = window.meetingClient;
  window.__seen = [];
  for (const type of ["participant_left", "participant_joined", "participant_connection", "media_reset"]) {
    c.signaling.on(type, (m) => window.__seen.push({type, id: m.participant_id || (m.participant || {}).id,
                                                   at: Date.now()}));
  }
  window.__states = [];
  new MutationObserver(() => window.__states.push({state: document.body.dataset.connection, at: Date.now(),
                                                  banner: document.getElementById("status").textContent}))
    .observe(document.body, {attributes: true, attributeFilter: ["data-connection"]});
}
"""


@dataclass
class Call:
    host: Page
    guest: Page
    host_id: str
    guest_id: str
    meeting_id: str


def secure_origin_args(origin: str) -> list[str]:
    # Off localhost a browser opens the camera only on a secure origin; this plain-http one counts as one.
    return [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={origin}"]


@contextlib.contextmanager
def product_on(network: BrowserNetwork, log_name: str, env: dict[str, str] | None = None,
               checkout: Path | None = None) -> Iterator[GatewayProcess]:
    """The whole product (gateway + spawned media server) listening on the namespace's root-side address."""
    ip = network.server_ip
    with run_product(log_name, {"HTTP_HOST": ip, "MEDIA_BIND": ip, "MEDIA_PUBLIC_IP": ip,
                                "HTTP_PORT": str(free_tcp_port()), "MEDIA_UDP_PORT": str(free_udp_port()),
                                **(env or {})}, cwd=checkout) as gateway:
        yield gateway


@contextlib.asynccontextmanager
async def browsers(network: BrowserNetwork, origin: str) -> AsyncIterator[tuple[Browser, Browser]]:
    """The host's Chromium here, the guest's inside the namespace (its pipe to Playwright crosses over)."""
    async with async_playwright() as playwright:
        host = await playwright.chromium.launch(executable_path=CHROMIUM, args=secure_origin_args(origin))
        guest = await playwright.chromium.launch(executable_path=str(network.chromium),
                                                 args=secure_origin_args(origin))
        try:
            yield host, guest
        finally:
            await guest.close()
            await host.close()


async def new_page(browser: Browser, base_url: str, console: list[str], tag: str,
                   viewport: ViewportSize = DEFAULT_VIEWPORT) -> Page:
    context: BrowserContext = await browser.new_context(base_url=base_url, permissions=["camera", "microphone"],
                                                        viewport=viewport)
    context.set_default_timeout(UI_TIMEOUT)
    context.on("console", lambda msg: console.append(f"{time.monotonic():.2f} [{tag}] {msg.type}: {msg.text}"))
    context.on("weberror", lambda err: console.append(f"[{tag}] pageerror: {err.error}"))
    return await context.new_page()


async def start_call(host_browser: Browser, guest_browser: Browser, base_url: str, console: list[str],
                     guest_url: str | None = None) -> Call:
    """`guest_url`: the guest's gateway when it is not the host's (several gateways on one Redis)."""
    from .conftest import create_meeting, login_host, participant_id, wait_for_frames

    host = await new_page(host_browser, base_url, console, "host")
    await login_host(host)
    meeting_id = await create_meeting(host)
    guest = await new_page(guest_browser, guest_url or base_url, console, "guest")
    await guest.goto(f"/join/{meeting_id}")
    # As a patient guest: the preview is up before Join (the quick click's race is issue #15's).
    await guest.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=\"preview-video\"]'); return v && v.videoWidth > 0; }"
    )
    await guest.get_by_test_id("guest-name").fill("Guest")
    await guest.get_by_test_id("join-submit").click()
    await guest.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    host_id, guest_id = await participant_id(host), await participant_id(guest)
    await wait_for_frames(host, guest_id)
    await wait_for_frames(guest, host_id)
    for page in (host, guest):
        await page.evaluate(RECORD_EVENTS_JS)
    return Call(host, guest, host_id, guest_id, meeting_id)


async def frames_decoded(page: Page, pid: str) -> int:
    stats = await page.evaluate(STATS_JS, pid)
    return int(stats["framesDecoded"]) if stats else 0


async def time_to_media(page: Page, pid: str, since: float, timeout: float, more: int = 15) -> float:
    """Seconds from `since` until `pid`'s video on `page` decodes `more` new frames (the call is back).

    New peer connections (media_reset) bring new receivers whose count starts again from 0: the baseline
    follows the count down, so frames are counted on whatever receiver the tile shows now.
    """
    baseline = await frames_decoded(page, pid)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        decoded = await frames_decoded(page, pid)
        baseline = min(baseline, decoded)
        if decoded >= baseline + more:
            return time.monotonic() - since
        await asyncio.sleep(0.1)
    raise AssertionError(f"no video from {pid} within {timeout} s of the network coming back")


async def both_ways(call: Call, since: float, timeout: float) -> tuple[float, float]:
    host_sees, guest_sees = await asyncio.gather(time_to_media(call.host, call.guest_id, since, timeout),
                                                 time_to_media(call.guest, call.host_id, since, timeout))
    return host_sees, guest_sees


async def wait_connection(page: Page, state: str, timeout: float) -> None:
    await page.wait_for_function(f"() => document.body.dataset.connection === {state!r}", timeout=timeout * 1000)


async def seen(page: Page) -> list[dict[str, Any]]:
    events = await page.evaluate("() => window.__seen")
    assert isinstance(events, list)
    return events


async def states(page: Page) -> list[dict[str, Any]]:
    value = await page.evaluate("() => window.__states")
    assert isinstance(value, list)
    return value


async def mic_toggle_reaches_the_host(call: Call, timeout: float = 10.0) -> None:
    """Signalling works: the guest's mic button changes the guest's mic on the host's tile and host panel."""
    tile = f'[data-testid="participant-tile"][data-participant-id="{call.guest_id}"]'
    panel_mic = (f'[data-testid="host-panel"] [data-testid="participant-row"][data-participant-id="{call.guest_id}"] '
                 '[data-testid="participant-mic"]')
    before = await call.host.get_attribute(tile, "data-audio")
    await call.guest.get_by_test_id("toggle-mic").click()
    expected = "off" if before == "on" else "on"
    await call.host.wait_for_selector(f'{tile}[data-audio="{expected}"]', state="attached", timeout=timeout * 1000)
    await call.host.wait_for_selector(f'{panel_mic}[data-state="{expected}"]', state="attached", timeout=5000)


def assert_no_leave_or_join(events: list[dict[str, Any]], pid: str) -> None:
    churn = [e for e in events if e["id"] == pid and e["type"] in ("participant_left", "participant_joined")]
    assert churn == [], f"the others saw {pid} leave or join: {churn}"


TIMINGS = ARTIFACTS / "reconnect-timings.jsonl"


def record_timing(kind: str, outage_s: float, host_sees: float, guest_sees: float) -> None:
    """One recovery, for the closing note's p50/max (appended; the file collects every run on this machine)."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    with TIMINGS.open("a") as out:
        out.write(json.dumps({"kind": kind, "outage_s": outage_s, "host_sees_guest_s": round(host_sees, 2),
                              "guest_sees_host_s": round(guest_sees, 2), "at": time.time()}) + "\n")
