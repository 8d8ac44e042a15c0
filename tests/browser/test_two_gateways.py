"""One meeting through two gateways on one Redis: the host's browser on one, the guest's on the other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser

from tests.gateway.gateway_process import GatewayProcess, free_tcp_port, start_gateway_process
from tests.processes import MediaServerProcess, start_media_server
from tests.store.redis_server import RedisServer

from .conftest import ARTIFACTS, HOST_PASSWORD
from .host_ui import keeps_growing, received_bytes, row, stays_flat, tile, until
from .reconnect_rig import Call, start_call

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]


@contextlib.contextmanager
def two_gateways(redis: RedisServer) -> Iterator[tuple[GatewayProcess, GatewayProcess, MediaServerProcess]]:
    """Gateways A and B as operators run them: REDIS_URL, one SECRET_KEY, the same media server."""
    media = start_media_server()
    env = {"HOST_PASSWORD": HOST_PASSWORD, "REDIS_URL": redis.url, "SECRET_KEY": "two-gateways-" * 3,
           "MEDIA_SERVER_URL": f"tcp://127.0.0.1:{media.control_port}"}
    started: list[GatewayProcess] = []
    try:
        for _ in "ab":
            started.append(start_gateway_process({**env, "HTTP_PORT": str(free_tcp_port())}, timeout=40))
        yield started[0], started[1], media
    finally:
        for name, gateway in zip("ab", started, strict=False):
            gateway.stop()
            (ARTIFACTS / f"two-gateways-{name}.log").write_text(gateway.log())
        media.stop()


async def test_host_on_one_gateway_and_guest_on_the_other_see_hear_and_moderate(
    browser: Browser, browser_redis: RedisServer
) -> None:
    console: list[str] = []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with two_gateways(browser_redis) as (a, b, _):
        # start_call: both pages decode each other's video before it returns.
        call = await start_call(browser, browser, a.base_url, console, guest_url=b.base_url)
        try:
            await _moderate_across(call)
        finally:
            (ARTIFACTS / "two-gateways.console.log").write_text("\n".join(console))
            for page in (call.host, call.guest):
                await page.context.close()


async def _moderate_across(call: Call) -> None:
    host, guest = call.host, call.guest

    async def guest_audio_at_host() -> int:
        return await received_bytes(host, call.guest_id, "audio")

    await host.get_by_test_id("toggle-host-panel").click()
    await row(host, call.guest_id, "mute-participant").wait_for(state="visible")
    await keeps_growing(guest_audio_at_host, "the guest's audio at the host")
    # The host's mute, sent through A, reaches the guest's page on B and stops forwarding.
    await row(host, call.guest_id, "mute-participant").click()
    await guest.get_by_test_id("request-unmute").wait_for(state="visible")
    assert await guest.get_by_test_id("toggle-mic").get_attribute("data-state") == "off"
    await tile(host, call.guest_id).locator('[data-testid="mic-off-indicator"]').wait_for(state="visible")
    await stays_flat(guest_audio_at_host, "the guest's audio at the host while muted")
    # The guest asks through B; the host sees the request through A and allows it.
    await guest.get_by_test_id("request-unmute").click()
    await row(host, call.guest_id, "unmute-request").wait_for(state="visible")
    await row(host, call.guest_id, "mute-participant").click()
    await until("the guest's mic button works again",
                lambda: guest.get_by_test_id("toggle-mic").is_enabled())
    await guest.get_by_test_id("toggle-mic").click()
    await tile(host, call.guest_id).locator('[data-testid="mic-off-indicator"]').wait_for(state="hidden")
    await keeps_growing(guest_audio_at_host, "the guest's audio at the host after it was allowed")
