"""Browser fixtures: the whole product as a subprocess, headless Chromium with fake devices, UI helpers."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, ViewportSize, async_playwright

from tests.gateway.gateway_process import GatewayProcess, start_gateway_process
from tests.store.redis_server import RedisServer, redis_server_installed, start_redis_server

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--allow-loopback-in-peer-connection",
]
HOST_PASSWORD = "browser-test-password"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
UI_TIMEOUT = 15_000  # ms: page loads, joins, tiles appearing
DEFAULT_VIEWPORT: ViewportSize = {"width": 960, "height": 600}
MEDIA_TIMEOUT = 30_000  # ms: ICE + DTLS + first decoded frames

# Collects per-participant receive stats from the page: tile video size, decoded frames, audio bytes.
STATS_JS = """
async (pid, testid = "participant-tile") => {
  const client = window.meetingClient;
  const tile = document.querySelector(`[data-testid="${testid}"][data-participant-id="${pid}"]`);
  if (!client || !client.subscriber || !tile) return null;
  const video = tile.querySelector("video");
  const stream = video.srcObject;
  const out = {videoWidth: video.videoWidth, framesDecoded: 0, videoBytes: 0, audioBytes: 0,
               playbackFrames: video.getVideoPlaybackQuality().totalVideoFrames};
  if (!stream) return out;
  const ids = new Set(stream.getTracks().map((t) => t.id));
  for (const receiver of client.subscriber.getReceivers()) {
    if (!receiver.track || !ids.has(receiver.track.id)) continue;
    const report = await receiver.getStats();
    report.forEach((r) => {
      if (r.type !== "inbound-rtp") return;
      if (r.kind === "video") { out.framesDecoded += r.framesDecoded || 0; out.videoBytes += r.bytesReceived || 0; }
      if (r.kind === "audio") out.audioBytes += r.bytesReceived || 0;
    });
  }
  return out;
}
"""


@contextlib.contextmanager
def run_product(log_name: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[GatewayProcess]:
    """The product as a process (`cwd`: another checkout's code); its log is kept as an artifact."""
    gateway = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD, **(env or {})}, wait_media=True, timeout=40,
                                    cwd=cwd)
    try:
        yield gateway
    finally:
        gateway.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / log_name).write_text(gateway.log())


@pytest.fixture(scope="session")
def product() -> Iterator[GatewayProcess]:
    """`python -m signaling_gateway` with its own media server, on free ports, healthy and media-connected."""
    with run_product("product.log") as gateway:
        yield gateway


@pytest.fixture(scope="session")
def lossy_product() -> Iterator[GatewayProcess]:
    """The product with the media server's fault injection on (`simulate_loss`), kept apart from `product`."""
    with run_product("lossy-product.log", {"MEDIA_FAULT_INJECTION": "1"}) as gateway:
        yield gateway


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


class NewContext(Protocol):
    async def __call__(self, viewport: ViewportSize = DEFAULT_VIEWPORT, locale: str = "en-US") -> BrowserContext: ...


@pytest_asyncio.fixture(loop_scope="session")
async def new_context(
    browser: Browser, product: GatewayProcess, request: pytest.FixtureRequest
) -> AsyncIterator[NewContext]:
    """A fresh browser profile per simulated person (own cookies); console output is kept as an artifact."""
    async with _context_factory(browser, product, request.node.name) as make:
        yield make


@pytest_asyncio.fixture(loop_scope="session")
async def new_lossy_context(
    browser: Browser, lossy_product: GatewayProcess, request: pytest.FixtureRequest
) -> AsyncIterator[NewContext]:
    """Like `new_context`, against `lossy_product`."""
    async with _context_factory(browser, lossy_product, request.node.name) as make:
        yield make


@contextlib.asynccontextmanager
async def _context_factory(browser: Browser, product: GatewayProcess, test_name: str) -> AsyncIterator[NewContext]:
    contexts: list[BrowserContext] = []
    console: list[str] = []

    async def make(viewport: ViewportSize = DEFAULT_VIEWPORT, locale: str = "en-US") -> BrowserContext:
        # `locale` sets the browser's language and so its Accept-Language: what picks the interface's language.
        context = await browser.new_context(
            base_url=product.base_url, permissions=["camera", "microphone"], viewport=viewport, locale=locale
        )
        index = len(contexts)
        context.on("console", lambda msg: console.append(f"[ctx{index}] {msg.type}: {msg.text}"))
        context.on("weberror", lambda err: console.append(f"[ctx{index}] pageerror: {err.error}"))
        context.set_default_timeout(UI_TIMEOUT)
        contexts.append(context)
        return context

    try:
        yield make
    finally:
        for context in contexts:
            await context.close()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{test_name}.console.log").write_text("\n".join(console))


async def login_host(page: Page, password: str = HOST_PASSWORD) -> None:
    await page.goto("/login")
    await page.get_by_test_id("login-username").fill("host")
    await page.get_by_test_id("login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await page.wait_for_url(re.compile(r"/$"))


async def create_meeting(page: Page) -> str:
    """From the host home: create a meeting, then enter it from its share panel; returns the meeting id."""
    await page.get_by_test_id("create-meeting").click()
    panel = page.get_by_test_id("share-panel")
    await panel.wait_for(state="visible")
    await panel.get_by_test_id("enter-meeting").click()
    await page.wait_for_url(re.compile(r"/room/[a-z0-9-]+$"))
    return page.url.rsplit("/", 1)[1]


async def host_in_new_meeting(
    new_context: NewContext, viewport: ViewportSize = DEFAULT_VIEWPORT, locale: str = "en-US"
) -> tuple[Page, str]:
    """The host in a browser profile of their own, signed in and in a meeting just made: (their page, its id)."""
    host = await (await new_context(viewport=viewport, locale=locale)).new_page()
    await login_host(host)
    return host, await create_meeting(host)


async def join_guest(context: BrowserContext, meeting_id: str, name: str) -> Page:
    page = await context.new_page()
    await page.goto(f"/join/{meeting_id}")
    await page.get_by_test_id("guest-name").fill(name)
    await page.get_by_test_id("join-submit").click()
    await page.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    return page


DIAGNOSE_JS = """
() => {
  const c = window.meetingClient || {};
  const status = document.querySelector('[data-testid="status"]');
  return {
    url: location.pathname,
    status: status && !status.hidden ? status.textContent : null,
    participantId: c.participantId || null,
    ws: c.ws ? c.ws.readyState : null,
    publisher: c.publisher ? `${c.publisher.connectionState}/${c.publisher.signalingState}` : null,
    subscriber: c.subscriber ? `${c.subscriber.connectionState}/${c.subscriber.signalingState}` : null,
    receivers: c.subscriber ? c.subscriber.getReceivers().map((r) => `${r.track.kind}:${r.track.readyState}`) : [],
    tiles: [...document.querySelectorAll('[data-testid="participant-tile"]')].map((t) => t.dataset.participantId),
  };
}
"""


async def diagnose(page: Page) -> dict[str, Any]:
    """The page's view of its call, for failure messages."""
    try:
        state = await page.evaluate(DIAGNOSE_JS)
    except Exception as exc:
        return {"error": repr(exc)}
    assert isinstance(state, dict)
    return state


async def participant_id(page: Page) -> str:
    """Waits for the welcome and returns this page's participant id."""
    try:
        handle = await page.wait_for_function(
            "() => window.meetingClient && window.meetingClient.participantId", timeout=UI_TIMEOUT
        )
    except Exception as exc:
        raise AssertionError(f"no welcome; page state {await diagnose(page)}") from exc
    value = await handle.json_value()
    assert isinstance(value, str)
    return value


def tile_selector(pid: str) -> str:
    return f'[data-testid="participant-tile"][data-participant-id="{pid}"]'


async def wait_for_tile(page: Page, pid: str) -> None:
    try:
        await page.wait_for_selector(tile_selector(pid), state="attached", timeout=UI_TIMEOUT)
    except Exception as exc:
        raise AssertionError(f"no tile for {pid}; page {await diagnose(page)}") from exc


async def wait_for_tile_gone(page: Page, pid: str) -> None:
    try:
        await page.wait_for_selector(tile_selector(pid), state="detached", timeout=UI_TIMEOUT)
    except Exception as exc:
        raise AssertionError(f"tile for {pid} still there; page {await diagnose(page)}") from exc


async def tile_name(page: Page, pid: str) -> str:
    return await page.locator(f"{tile_selector(pid)} .name").text_content() or ""


async def receive_stats(page: Page, pid: str) -> dict[str, Any] | None:
    stats = await page.evaluate(STATS_JS, pid)
    assert stats is None or isinstance(stats, dict)
    return stats


async def _wait_stat(page: Page, pid: str, condition: str, arg: Any, timeout: int) -> dict[str, Any]:
    # wait_for_function treats a returned Promise as truthy, so the predicate stays synchronous: each poll
    # starts a getStats() that stores its result, and the condition is checked on the latest stored one.
    predicate = f"""([pid, arg]) => {{
        const cache = (window.__receiveStats = window.__receiveStats || {{}});
        ({STATS_JS})(pid).then((fresh) => {{ cache[pid] = fresh; }});
        const s = cache[pid];
        return s && ({condition}) ? s : null;
    }}"""
    try:
        handle = await page.wait_for_function(predicate, arg=[pid, arg], timeout=timeout, polling=250)
    except Exception as exc:
        stats = await receive_stats(page, pid)
        raise AssertionError(f"{condition} never held for {pid}; stats {stats}; page {await diagnose(page)}") from exc
    value = await handle.json_value()
    assert isinstance(value, dict)
    return value


async def wait_for_frames(page: Page, pid: str, more: int = 50, timeout: int = MEDIA_TIMEOUT) -> dict[str, Any]:
    """Waits until the tile of `pid` shows video and then until `more` further frames have been decoded."""
    first = await _wait_stat(page, pid, "s.videoWidth > 0 && s.framesDecoded > 0", None, timeout)
    return await _wait_stat(page, pid, "s.framesDecoded > arg", first["framesDecoded"] + more, timeout)


async def wait_for_audio(page: Page, pid: str, more_bytes: int = 2000, timeout: int = MEDIA_TIMEOUT) -> dict[str, Any]:
    """Waits until audio from `pid` arrives and keeps arriving."""
    first = await _wait_stat(page, pid, "s.audioBytes > 0", None, timeout)
    return await _wait_stat(page, pid, "s.audioBytes > arg", first["audioBytes"] + more_bytes, timeout)


async def wait_for_local_video(page: Page, timeout: int = UI_TIMEOUT) -> None:
    await page.wait_for_function(
        """() => { const v = document.querySelector('[data-testid="local-video"]');
                   return v && v.videoWidth > 0 && !v.paused && v.getBoundingClientRect().width > 0; }""",
        timeout=timeout,
    )


async def grid_count(page: Page) -> str | None:
    return await page.get_by_test_id("participants-grid").get_attribute("data-count")


@pytest_asyncio.fixture(loop_scope="session")
async def browser_redis() -> AsyncIterator[RedisServer]:
    """A redis-server of the test's own, for products run with REDIS_URL."""
    if not redis_server_installed():
        pytest.skip("redis-server is not installed (scripts/test installs it)")
    server = start_redis_server()
    try:
        yield server
    finally:
        server.stop()
