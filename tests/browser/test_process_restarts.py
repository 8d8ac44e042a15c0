"""Calls that outlive their processes, in real Chromium: the media server killed mid-call (the gateway
restarts it, rooms are made again, clients set their media up anew), and, with Redis, the gateway killed and a
new one started on its port while media keeps flowing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser

from tests.gateway.gateway_process import (
    GatewayProcess,
    child_pids,
    free_tcp_port,
    free_udp_port,
    start_gateway_process,
)
from tests.processes import start_media_server
from tests.store.redis_server import RedisServer

from .conftest import ARTIFACTS, HOST_PASSWORD, join_guest, wait_for_frames
from .reconnect_rig import (
    Call,
    assert_no_leave_or_join,
    both_ways,
    frames_decoded,
    mic_toggle_reaches_the_host,
    record_timing,
    seen,
    start_call,
    wait_connection,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.asyncio(loop_scope="session")]

MEDIA_BACK_S = 15.0  # the bound after a media server crash


@contextlib.asynccontextmanager
async def call_on(browser: Browser, product: GatewayProcess, name: str) -> AsyncIterator[Call]:
    console: list[str] = []
    call = await start_call(browser, browser, product.base_url, console)
    await call.host.evaluate("() => { window.__sameDocument = true; }")
    await call.guest.evaluate("() => { window.__sameDocument = true; }")
    try:
        yield call
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}.console.log").write_text("\n".join(console))
        for page in (call.host, call.guest):
            await page.context.close()


async def not_reloaded(call: Call) -> None:
    for page in (call.host, call.guest):
        assert await page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"


def media_server_pid(gateway: GatewayProcess) -> int:
    for pid in child_pids(gateway.process.pid):
        if "mediaserver" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            return pid
    raise AssertionError("the gateway has no media server child")


@pytest.fixture
def product_for_crash() -> Iterator[GatewayProcess]:
    gateway = start_gateway_process({"HOST_PASSWORD": HOST_PASSWORD}, wait_media=True, timeout=40)
    try:
        yield gateway
    finally:
        gateway.stop()
        (ARTIFACTS / "media-crash-product.log").write_text(gateway.log())


async def test_a_media_server_killed_mid_call_is_restarted_and_both_sides_decode_again(
    browser: Browser, product_for_crash: GatewayProcess
) -> None:
    async with call_on(browser, product_for_crash, "media-crash") as call:
        old = media_server_pid(product_for_crash)
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()
        host_sees, guest_sees = await both_ways(call, killed_at, MEDIA_BACK_S + 10)
        record_timing("media_server_sigkill", 0.0, host_sees, guest_sees)
        assert host_sees <= MEDIA_BACK_S and guest_sees <= MEDIA_BACK_S, (host_sees, guest_sees)
        assert media_server_pid(product_for_crash) != old  # a new process, not the old one come back
        await not_reloaded(call)
        # Same participants, nobody left or joined; signalling works.
        assert await call.guest.evaluate("() => window.meetingClient.participantId") == call.guest_id
        assert_no_leave_or_join(await seen(call.host), call.guest_id)
        assert any(e["type"] == "media_reset" for e in await seen(call.guest))
        await mic_toggle_reaches_the_host(call)


async def test_with_redis_a_gateway_killed_and_started_again_loses_nothing(
    browser: Browser, browser_redis: RedisServer
) -> None:
    media = start_media_server()  # a media server of its own, as in production: it outlives the gateway
    env = {
        "HOST_PASSWORD": HOST_PASSWORD, "REDIS_URL": browser_redis.url, "SECRET_KEY": "restart-test-" * 3,
        "MEDIA_SERVER_URL": f"tcp://127.0.0.1:{media.control_port}", "HTTP_PORT": str(free_tcp_port()),
        "MEDIA_UDP_PORT": str(free_udp_port()),
    }
    first = start_gateway_process(env, wait_media=True, timeout=40)
    second: GatewayProcess | None = None
    try:
        async with call_on(browser, first, "gateway-restart") as call:
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(10)
            # Media flows throughout: it never went through the gateway.
            for page, pid in ((call.host, call.guest_id), (call.guest, call.host_id)):
                before = await frames_decoded(page, pid)
                await asyncio.sleep(1.0)
                assert await frames_decoded(page, pid) > before + 5, "media stopped with the gateway"
            second = start_gateway_process(env, wait_media=True, timeout=40)
            for page in (call.host, call.guest):
                await wait_connection(page, "connected", timeout=20)
            await not_reloaded(call)
            assert await call.guest.evaluate("() => window.meetingClient.participantId") == call.guest_id
            await mic_toggle_reaches_the_host(call)
            # A host control after the restart reaches the guest through the new gateway.
            await call.host.evaluate("""(pid) => window.meetingClient.signaling.send('host_action',
                                         {action: 'mute', participant_id: pid})""", call.guest_id)
            await call.guest.get_by_test_id("request-unmute").wait_for(state="visible", timeout=10_000)
            assert await call.guest.get_by_test_id("toggle-mic").get_attribute("data-state") == "off"
            # Media is still the same session: nobody saw a leave or a join.
            assert_no_leave_or_join(await seen(call.host), call.guest_id)
            await both_ways(call, time.monotonic(), 10)
            # The join link still works for someone new: the newcomer gets in and sees the host.
            context = await browser.new_context(base_url=second.base_url, permissions=["camera", "microphone"])
            try:
                newcomer = await join_guest(context, call.meeting_id, "Late")
                await wait_for_frames(newcomer, call.host_id)
            finally:
                await context.close()
    finally:
        for gateway in (first, second):
            if gateway is not None:
                gateway.stop()
                (ARTIFACTS / f"gateway-restart-{gateway.process.pid}.log").write_text(gateway.log())
        media.stop()


async def test_the_media_server_of_a_live_call_killed_the_room_moves_to_the_other_node(
    browser: Browser, browser_redis: RedisServer
) -> None:
    # Two media servers registered in Redis (MEDIA_SERVER_URL=redis): the one holding the call is killed and
    # stays dead; its heartbeat expires, the room is placed on the other, both pages are back without a reload.
    nodes = {f"node-{n}": start_media_server("--redis-url", browser_redis.url, "--node-id", f"node-{n}")
             for n in "ab"}
    env = {"HOST_PASSWORD": HOST_PASSWORD, "REDIS_URL": browser_redis.url, "SECRET_KEY": "failover-test-" * 3,
           "MEDIA_SERVER_URL": "redis", "HTTP_PORT": str(free_tcp_port())}
    gateway = start_gateway_process(env, wait_media=True, timeout=40)
    try:
        async with call_on(browser, gateway, "node-failover") as call:
            holder = browser_redis.client().get(f"mediaserver:room:{call.meeting_id}")
            assert holder in nodes
            nodes[holder].process.kill()
            killed_at = time.monotonic()
            host_sees, guest_sees = await both_ways(call, killed_at, MEDIA_BACK_S + 10)
            record_timing("media_node_failover", 0.0, host_sees, guest_sees)
            assert host_sees <= MEDIA_BACK_S and guest_sees <= MEDIA_BACK_S, (host_sees, guest_sees)
            moved_to = browser_redis.client().get(f"mediaserver:room:{call.meeting_id}")
            assert moved_to in nodes and moved_to != holder
            await not_reloaded(call)
            assert any(e["type"] == "media_reset" for e in await seen(call.guest))
            await mic_toggle_reaches_the_host(call)
    finally:
        gateway.stop()
        (ARTIFACTS / "node-failover-gateway.log").write_text(gateway.log())
        for server in nodes.values():
            server.stop()
