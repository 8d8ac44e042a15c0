"""Reachable from every network, in real Chromium: a call relayed through a real coturn with the gateway's
time-limited credentials, HTTPS on a non-loopback address, and the explanation a plain-http page gives."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

from signaling_gateway.tls import self_signed
from tests.gateway.gateway_process import GatewayProcess, free_tcp_port, free_udp_port
from tests.netns import BrowserNetwork, netns_available
from tests.turn.coturn import SECRET, Coturn, coturn_installed, run_coturn

from .conftest import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    create_meeting,
    login_host,
    participant_id,
    run_product,
    tile_selector,
    wait_for_frames,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture(scope="module")
def turn_product(coturn: Coturn) -> Iterator[GatewayProcess]:
    env = {"TURN_URLS": f"turn:127.0.0.1:{coturn.port}?transport=udp", "TURN_SECRET": SECRET}
    with run_product("turn-product.log", env) as gateway:
        yield gateway


async def _call(browser: Browser, base_url: str, query: str = "") -> tuple[Page, Page, str, str]:
    host_context = await browser.new_context(base_url=base_url, permissions=["camera", "microphone"],
                                             ignore_https_errors=True)
    host = await host_context.new_page()
    await login_host(host)
    meeting_id = await create_meeting(host)
    await host.goto(f"/room/{meeting_id}{query}")
    guest_context = await browser.new_context(base_url=base_url, permissions=["camera", "microphone"],
                                              ignore_https_errors=True)
    guest = await guest_context.new_page()
    await guest.goto(f"/join/{meeting_id}")
    await guest.get_by_test_id("guest-name").fill("Relayed guest")
    await guest.get_by_test_id("join-submit").click()
    await guest.wait_for_url(re.compile(rf"/room/{re.escape(meeting_id)}$"))
    if query:
        await guest.goto(f"/room/{meeting_id}{query}")
    host_id, guest_id = await participant_id(host), await participant_id(guest)
    return host, guest, host_id, guest_id


async def test_two_pages_restricted_to_relay_candidates_decode_each_other_through_coturn(
    browser: Browser, turn_product: GatewayProcess, coturn: Coturn
) -> None:
    host, guest, host_id, guest_id = await _call(browser, turn_product.base_url, "?ice=relay")
    try:
        await wait_for_frames(host, guest_id)
        await wait_for_frames(guest, host_id)
        for page in (host, guest):
            await page.wait_for_function("() => window.meetingClient.relayed === true", timeout=15_000)
        # The host's call statistics say the guest is relayed (from the guest's own connection_stats).
        row = f'[data-testid="stats-row"][data-participant-id="{guest_id}"] [data-testid="stat-path"]'
        await host.wait_for_selector(f'{row}[data-path="relayed"]', state="attached", timeout=15_000)
        # coturn's log shows the allocations, under the usernames the gateway minted (expiry:participant id).
        log = coturn.log()
        assert f":{guest_id}" in log and f":{host_id}" in log, log[-3000:]
    finally:
        await host.context.close()
        await guest.context.close()


@pytest.fixture(scope="module")
def network() -> Iterator[BrowserNetwork]:
    if not netns_available():
        pytest.skip("needs root and ip netns")
    with BrowserNetwork(36) as net:
        yield net


@pytest_asyncio.fixture(loop_scope="session")
async def plain_chromium() -> AsyncIterator[Browser]:
    """Chromium without any secure-origin exception, as a person's browser."""
    async with async_playwright() as playwright:
        args = [a for a in CHROMIUM_ARGS if a != "--allow-loopback-in-peer-connection"]
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


async def test_https_on_a_lan_address_opens_the_camera_and_calls(network: BrowserNetwork,
                                                                 plain_chromium: Browser, tmp_path: Path) -> None:
    ip = network.server_ip
    cert, key = self_signed([ip], tmp_path)
    env = {"HTTP_HOST": ip, "MEDIA_BIND": ip, "MEDIA_PUBLIC_IP": ip, "HTTP_PORT": str(free_tcp_port()),
           "MEDIA_UDP_PORT": str(free_udp_port()), "TLS_CERT": str(cert), "TLS_KEY": str(key)}
    with run_product("https-product.log", env) as product:
        assert product.base_url.startswith("https://")
        host, guest, host_id, guest_id = await _call(plain_chromium, product.base_url)
        try:
            await wait_for_frames(host, guest_id)
            await wait_for_frames(guest, host_id)
            assert await guest.evaluate("() => window.isSecureContext") is True
        finally:
            await host.context.close()
            await guest.context.close()


async def test_plain_http_off_localhost_says_why_the_camera_cannot_open(network: BrowserNetwork,
                                                                       plain_chromium: Browser) -> None:
    ip = network.server_ip
    env = {"HTTP_HOST": ip, "MEDIA_BIND": ip, "MEDIA_PUBLIC_IP": ip, "HTTP_PORT": str(free_tcp_port()),
           "MEDIA_UDP_PORT": str(free_udp_port())}
    with run_product("insecure-product.log", env) as product:
        context = await plain_chromium.new_context(base_url=product.base_url)
        try:
            host = await context.new_page()
            await login_host(host)
            meeting_id = await create_meeting(host)
            status = host.get_by_test_id("status")
            await status.wait_for(state="visible")
            assert "not secure" in (await status.text_content() or "")
            guest = await (await plain_chromium.new_context(base_url=product.base_url)).new_page()
            await guest.goto(f"/join/{meeting_id}")
            note = guest.get_by_test_id("media-note")
            await note.wait_for(state="visible")
            assert await note.get_attribute("data-reason") == "insecure-context"
            assert "https://" in (await note.text_content() or "")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await guest.screenshot(path=str(ARTIFACTS / "prejoin-insecure-context.png"))
            assert await guest.locator(tile_selector("x")).count() == 0
            await guest.context.close()
        finally:
            await context.close()


async def test_a_guest_without_udp_joins_through_turn_over_tcp_and_shows_as_relayed(
    network: BrowserNetwork, tmp_path: Path
) -> None:
    if not coturn_installed() or shutil.which("nft") is None:
        pytest.skip("needs coturn and nftables (scripts/test installs them)")
    from .reconnect_rig import browsers, product_on, start_call

    ip = network.server_ip
    # coturn beside the product, relaying to the media server's test address (private ranges are denied
    # by the template; this one is allowed here only).
    with run_coturn(listen=ip, extra=("allowed-peer-ip=10.213.0.0-10.213.255.255",)) as turnserver:
        env = {"TURN_URLS": f"turn:{ip}:{turnserver.port}?transport=tcp", "TURN_SECRET": SECRET}
        with product_on(network, "turn-fallback-product.log", env) as product:
            network.block_udp()
            try:
                async with browsers(network, product.base_url) as (host_browser, guest_browser):
                    console: list[str] = []
                    call = await start_call(host_browser, guest_browser, product.base_url, console)
                    (ARTIFACTS / "turn-fallback.console.log").write_text("\n".join(console))
                    await call.guest.wait_for_function("() => window.meetingClient.relayed === true",
                                                       timeout=20_000)
                    row = (f'[data-testid="stats-row"][data-participant-id="{call.guest_id}"] '
                           '[data-testid="stat-path"]')
                    await call.host.wait_for_selector(f'{row}[data-path="relayed"]', state="attached",
                                                      timeout=20_000)
            finally:
                network.unblock_udp()


async def test_turn_credentials_are_renewed_before_they_expire_and_the_relayed_call_goes_on(
    browser: Browser, coturn: Coturn
) -> None:
    # TURN_TTL at its minimum (60 s): the page fetches new credentials at 80 % of their life and moves its
    # relayed connections onto them (an ICE restart), as it does every ~5 h in a real 8-hour call.
    env = {"TURN_URLS": f"turn:127.0.0.1:{coturn.port}?transport=udp", "TURN_SECRET": SECRET, "TURN_TTL": "60"}
    with run_product("turn-renewal-product.log", env) as product:
        host, guest, host_id, guest_id = await _call(browser, product.base_url, "?ice=relay")
        try:
            await wait_for_frames(guest, host_id)
            first = await guest.evaluate("() => window.meetingClient.publisher.getConfiguration().iceServers"
                                         ".find((s) => s.username).username")
            await guest.wait_for_function("() => window.meetingClient.turnRenewals >= 1", timeout=70_000)
            renewed = await guest.evaluate("() => window.meetingClient.publisher.getConfiguration().iceServers"
                                           ".find((s) => s.username).username")
            assert int(renewed.split(":")[0]) > int(first.split(":")[0])
            await wait_for_frames(host, guest_id, more=40)
            await wait_for_frames(guest, host_id, more=40)
            assert await guest.evaluate("() => window.meetingClient.relayed") is True
        finally:
            await host.context.close()
            await guest.context.close()
