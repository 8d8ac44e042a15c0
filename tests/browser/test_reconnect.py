"""Calls that survive the network: a guest's link cut for 8 s and for 45 s, and a change of address (Wi-Fi to
mobile), in real Chromium; the guest's browser lives in a network namespace this test creates."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.gateway.gateway_process import GatewayProcess
from tests.netns import BrowserNetwork, netns_available

from .conftest import ARTIFACTS
from .reconnect_rig import (
    Call,
    assert_no_leave_or_join,
    both_ways,
    browsers,
    mic_toggle_reaches_the_host,
    product_on,
    record_timing,
    seen,
    start_call,
    states,
    wait_connection,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.skipif(not netns_available(), reason="needs root and ip netns (network namespaces)"),
]

RECOVERY_S = 10.0  # the bound on time to media after the network returns


@pytest.fixture(scope="module")
def network() -> Iterator[BrowserNetwork]:
    with BrowserNetwork(31) as net:
        yield net


@pytest.fixture(scope="module")
def product(network: BrowserNetwork) -> Iterator[GatewayProcess]:
    with product_on(network, "reconnect-product.log") as gateway:
        yield gateway


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def two_browsers(network: BrowserNetwork, product: GatewayProcess) -> AsyncIterator[tuple[Browser, Browser]]:
    async with browsers(network, product.base_url) as pair:
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def call(two_browsers: tuple[Browser, Browser], product: GatewayProcess, network: BrowserNetwork,
               request: pytest.FixtureRequest) -> AsyncIterator[Call]:
    network.link_up()
    console: list[str] = []
    started = await start_call(*two_browsers, product.base_url, console)
    try:
        yield started
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{request.node.name}.console.log").write_text("\n".join(console))
        for page in (started.host, started.guest):
            await page.context.close()


async def cut_and_restore(call: Call, network: BrowserNetwork, seconds: float) -> tuple[float, float]:
    network.link_down()
    cut_at = time.monotonic()
    try:
        # The guest says so while the link is down; the call stays on screen (its tiles are not torn down).
        await wait_connection(call.guest, "reconnecting", timeout=seconds - 0.5)
        assert await call.guest.locator('[data-testid="participant-tile"]').count() == 1
        await asyncio.sleep(max(0.0, seconds - (time.monotonic() - cut_at)))
    finally:
        network.link_up()
    back = time.monotonic()
    host_sees, guest_sees = await both_ways(call, back, RECOVERY_S + 5)
    record_timing(f"link_down_{seconds:g}s", seconds, host_sees, guest_sees)
    return host_sees, guest_sees


@pytest.mark.parametrize("seconds", [8.0, 45.0], ids=["8s", "45s"])
async def test_a_guest_whose_link_drops_comes_back_as_the_same_participant(
    call: Call, network: BrowserNetwork, seconds: float
) -> None:
    host_sees, guest_sees = await cut_and_restore(call, network, seconds)
    assert host_sees <= RECOVERY_S and guest_sees <= RECOVERY_S, (host_sees, guest_sees)
    await wait_connection(call.guest, "connected", timeout=10)
    assert await call.guest.evaluate("() => window.meetingClient.participantId") == call.guest_id
    tile = f'[data-testid="participant-tile"][data-participant-id="{call.guest_id}"]'
    assert await call.host.locator(tile).count() == 1
    await mic_toggle_reaches_the_host(call)
    assert_no_leave_or_join(await seen(call.host), call.guest_id)
    assert_no_leave_or_join(await seen(call.guest), call.host_id)
    shown = [s["state"] for s in await states(call.guest)]
    assert "reconnecting" in shown and shown[-1] == "connected", shown
    banners = " ".join(s["banner"] for s in await states(call.guest))
    assert "code" not in banners and "1006" not in banners  # never a raw close code on screen


async def test_a_guest_that_moves_to_a_new_address_keeps_its_call(call: Call, network: BrowserNetwork) -> None:
    moved_at = time.monotonic()
    network.move_to_new_address()
    host_sees, guest_sees = await both_ways(call, moved_at, RECOVERY_S + 5)
    record_timing("address_change", 0.0, host_sees, guest_sees)
    assert host_sees <= RECOVERY_S and guest_sees <= RECOVERY_S, (host_sees, guest_sees)
    # Signalling too: the old socket was bound to the address that is gone.
    await mic_toggle_reaches_the_host(call, timeout=RECOVERY_S + 10)
    assert await call.guest.evaluate("() => window.meetingClient.participantId") == call.guest_id
    assert_no_leave_or_join(await seen(call.host), call.guest_id)
