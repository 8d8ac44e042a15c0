"""The gateway's abuse limits on the real app: sockets per guest / address / meeting, message rates, coalescing,
POST /join's rate, /login throttling, logout revocation and the /metrics token."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from signaling_gateway.auth import HOST_COOKIE
from signaling_gateway.limit_settings import LimitSettings
from tests.processes import MediaServerProcess

from .conftest import HOST_PASSWORD, HOST_USER, WS_TIMEOUT, Gateway, eventually, receive, receive_type, start_gateway

LIMITS = LimitSettings()


async def _gateway(media_server: MediaServerProcess, **limits: Any) -> Gateway:
    gateway = await start_gateway(media_server.control_port, limits=replace(LIMITS, **limits))
    assert await gateway.media.wait_connected(10)
    return gateway


async def _meeting(gateway: Gateway) -> tuple[TestClient[Any, Any], str]:
    host = await gateway.host()
    response = await host.post("/api/meetings")
    assert response.status == 201, await response.text()
    return host, (await response.json())["id"]


async def _open(client: TestClient[Any, Any], meeting_id: str,
                query: str = "") -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    """A socket and its first message: welcome, or the error of a refusal."""
    ws = await client.ws_connect(f"/ws?meeting={meeting_id}{query}")
    return ws, await receive(ws)


async def _closed_with(ws: ClientWebSocketResponse) -> int | None:
    while True:
        message = await ws.receive(timeout=WS_TIMEOUT)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return ws.close_code


async def _metric(client: TestClient[Any, Any], name: str, labels: str) -> float:
    text = await (await client.get("/metrics")).text()
    match = re.search(rf"^{re.escape(name)}{{{re.escape(labels)}}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_a_guest_token_opens_at_most_its_sockets(media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, max_sockets_per_guest=2)
    try:
        _, meeting_id = await _meeting(gateway)
        guest = await gateway.guest(meeting_id, "Ann")
        opened = [await _open(guest, meeting_id) for _ in range(2)]
        assert [first["type"] for _, first in opened] == ["welcome", "welcome"]
        ws, refusal = await _open(guest, meeting_id)
        assert (refusal["type"], refusal["code"]) == ("error", "too_many_connections")
        assert "windows" in refusal["message"]
        assert await _closed_with(ws) == 4430
        assert await _metric(guest, "gateway_limit_refusals_total", 'limit="sockets_per_guest"') == 1
        # One closes: the token may open another.
        await opened[0][0].close()
        await asyncio.wait_for(_wait_welcome(guest, meeting_id), 10)
    finally:
        await gateway.close()


async def _wait_welcome(guest: TestClient[Any, Any], meeting_id: str) -> None:
    # The server ends the closed socket's ticket just after the client sees the close.
    while True:
        ws, first = await _open(guest, meeting_id)
        if first["type"] == "welcome":
            return
        await _closed_with(ws)
        await asyncio.sleep(0.05)


async def test_a_meeting_takes_its_maximum_and_a_resume_still_gets_back(media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, max_participants=3)
    try:
        host, meeting_id = await _meeting(gateway)
        host_ws, _ = await _open(host, meeting_id)
        guests = [await gateway.guest(meeting_id, f"G{i}") for i in range(3)]
        first_ws, first_welcome = await _open(guests[0], meeting_id)
        await _open(guests[1], meeting_id)
        ws, refusal = await _open(guests[2], meeting_id)
        assert refusal["code"] == "meeting_full" and "3 people" in refusal["message"]
        assert await _closed_with(ws) == 4413
        assert len(await gateway.store.list_participants(meeting_id)) == 3
        # A dropped participant comes back with its reconnect token although the meeting is full.
        await first_ws.close(code=4000)
        token = first_welcome["reconnect_token"]
        back = await guests[0].ws_connect(f"/ws?meeting={meeting_id}&reconnect={token}")
        welcome = await receive(back)
        assert welcome["type"] == "welcome" and welcome["resumed"] is True
        assert await _metric(host, "gateway_limit_refusals_total", 'limit="meeting_full"') == 1
        await host_ws.close()
    finally:
        await gateway.close()


async def test_sockets_per_address_are_capped(media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, max_sockets_per_address=2, max_sockets_per_guest=5)
    try:
        _, meeting_id = await _meeting(gateway)
        guests = [await gateway.guest(meeting_id, f"G{i}") for i in range(3)]
        assert (await _open(guests[0], meeting_id))[1]["type"] == "welcome"
        assert (await _open(guests[1], meeting_id))[1]["type"] == "welcome"
        ws, refusal = await _open(guests[2], meeting_id)
        assert (refusal["code"], await _closed_with(ws)) == ("too_many_connections", 4430)
    finally:
        await gateway.close()


async def test_a_flood_of_one_type_is_dropped_with_an_error_then_closed(media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, ws_flood_close=30)
    try:
        _, meeting_id = await _meeting(gateway)
        guest = await gateway.guest(meeting_id, "Flood")
        ws, welcome = await _open(guest, meeting_id)
        for _ in range(60):
            await ws.send_json({"type": "ping"})
        pongs, errors = 0, []
        while True:
            message = await ws.receive(timeout=WS_TIMEOUT)
            if message.type != WSMsgType.TEXT:
                break
            data = message.json()
            pongs += data["type"] == "pong"
            if data["type"] == "error":
                errors.append(data)
        assert ws.close_code == 4431
        # The ping burst (10) is answered; the rest is dropped, said once, then the close is explained.
        assert pongs == LIMITS.ws_rates["ping"].burst
        assert errors[0]["code"] == "rate_limited" and "ping" in errors[0]["message"]
        assert errors[-1]["code"] == "rate_limited" and "closed" in errors[-1]["message"]
        assert len(errors) == 2
        assert await _metric(guest, "gateway_limit_refusals_total", 'limit="ws_flood"') == 1
        # Coming straight back is refused (each comeback costs the media server an ICE restart), with the
        # reconnect token left unused: the participant stays parked for a comeback after the penalty.
        again, refusal = await _open(guest, meeting_id, f"&reconnect={welcome['reconnect_token']}")
        assert (refusal["code"], await _closed_with(again)) == ("rate_limited", 4431)
        assert "try again in" in refusal["message"]
        assert await gateway.store.get_reconnect(welcome["reconnect_token"]) is not None
        assert await _metric(guest, "gateway_limit_refusals_total", 'limit="ws_flood_penalty"') == 1
    finally:
        await gateway.close()


async def test_repeated_restart_ice_is_one_renegotiation(media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, coalesce_window=0.5)
    try:
        host, meeting_id = await _meeting(gateway)
        ws, _ = await _open(host, meeting_id)
        for _ in range(5):
            await ws.send_json({"type": "restart_ice"})
        # The first runs at once; the other four fold into one at the window's end.
        await receive_type(ws, "subscribe_offer")
        assert await _metric(host, "gateway_renegotiations_coalesced_total", 'type="restart_ice"') == 4
    finally:
        await gateway.close()


async def test_join_posts_per_address_are_rate_limited(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    statuses = []
    for _ in range(int(LIMITS.join_rate.burst) + 1):
        response = await client.post(f"/join/{meeting_id}", data={"name": "Ann"}, allow_redirects=False)
        statuses.append(response.status)
    assert statuses[:-1] == [302] * int(LIMITS.join_rate.burst)
    assert statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "Too many" in await response.text()


async def _login(client: TestClient[Any, Any], password: str) -> Any:
    return await client.post("/login", data={"username": HOST_USER, "password": password}, allow_redirects=False)


async def test_login_is_throttled_and_the_right_password_works_after_the_window(
        media_server: MediaServerProcess) -> None:
    gateway = await _gateway(media_server, login_free_failures=2, login_delay=60, login_lockout=1.5)
    try:
        client = await gateway.client()
        assert [(await _login(client, "wrong")).status for _ in range(2)] == [401, 401]
        throttled = await _login(client, "wrong")
        # Whole seconds up to the 1.5-s window, rounded up; how much of it is left depends on this machine's
        # speed (the exact figure is test_login_throttle's, on a test clock).
        assert throttled.status == 429 and throttled.headers["Retry-After"] in ("1", "2")
        assert "Too many attempts" in await throttled.text()
        # Throttled: even the right password is not tried until the window is over.
        assert (await _login(client, HOST_PASSWORD)).status == 429
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while (response := await _login(client, HOST_PASSWORD)).status == 429:
            assert loop.time() < deadline, "the window never ended"
            await asyncio.sleep(0.1)
        assert response.status == 302
        assert await _metric(client, "gateway_limit_refusals_total", 'limit="login"') >= 2
    finally:
        await gateway.close()


async def test_logout_revokes_a_copied_host_cookie(offline: Gateway) -> None:
    host = await offline.host()
    meeting_id = await offline.stored_meeting()
    cookie = host.session.cookie_jar.filter_cookies(host.make_url("/"))[HOST_COOKIE].value
    thief = await offline.client()
    thief.session.cookie_jar.update_cookies({HOST_COOKIE: cookie})
    assert (await thief.get("/", allow_redirects=False)).status == 200
    assert (await host.post("/logout", allow_redirects=False)).status == 302
    assert (await thief.get("/", allow_redirects=False)).headers["Location"] == "/login"
    assert (await thief.post("/api/meetings")).status == 401
    ws = await thief.ws_connect(f"/ws?meeting={meeting_id}")
    assert (await receive(ws))["code"] == "unauthorized"
    # Signing in again starts a new session, which works.
    assert (await (await offline.host()).get("/", allow_redirects=False)).status == 200


async def test_metrics_want_the_bearer_token_when_one_is_set(media_server: MediaServerProcess) -> None:
    gateway = await start_gateway(media_server.control_port, metrics_token="s3cret")
    try:
        client = await gateway.client()
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
        response = await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert response.status == 200
        assert 'gateway_limit_refusals_total{limit="metrics_token"} 2.0' in await response.text()
    finally:
        await gateway.close()


@pytest.mark.parametrize(("name", "value"), [("MAX_PARTICIPANTS", "0"), ("WS_RATE_LIMITS", "nope=1/2"),
                                             ("WS_RATE_LIMITS", "ping=x"), ("TRUST_FORWARDED_FOR", "maybe")])
def test_bad_limit_settings_are_refused_at_start(name: str, value: str) -> None:
    from signaling_gateway.config import ConfigError, Settings

    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_limit_settings_come_from_the_environment() -> None:
    from signaling_gateway.config import Settings

    settings = Settings.from_env({"MAX_PARTICIPANTS": "8", "MAX_SOCKETS_PER_GUEST": "1", "LOGIN_LOCKOUT": "2",
                                  "WS_RATE_LIMITS": "ping=4/8", "JOIN_RATE_PER_MINUTE": "6", "METRICS_TOKEN": "t",
                                  "TRUST_FORWARDED_FOR": "1"})
    limits = settings.limits
    assert (limits.max_participants, limits.max_sockets_per_guest, limits.login_lockout) == (8, 1, 2.0)
    assert (limits.ws_rates["ping"].per_second, limits.ws_rates["ping"].burst) == (4, 8)
    assert limits.ws_rates["publish_offer"] == LIMITS.ws_rates["publish_offer"]
    assert (limits.join_rate.burst, settings.metrics_token, limits.trust_forwarded_for) == (6, "t", True)
    assert Settings.from_env({}).limits == LIMITS


async def test_refused_sockets_leave_no_heartbeat_timer_behind(media_server: MediaServerProcess) -> None:
    # aiohttp re-arms a closed socket's heartbeat when the client's close frame arrives: the timer would hold
    # every refused socket (request, protocol, buffers) for 30 s (ws_limits.drop_heartbeat).
    gateway = await _gateway(media_server, max_sockets_per_guest=1)
    try:
        _, meeting_id = await _meeting(gateway)
        guest = await gateway.guest(meeting_id, "Ann")
        await _open(guest, meeting_id)
        for _ in range(20):
            ws, refusal = await _open(guest, meeting_id)
            assert refusal["code"] == "too_many_connections"
            await _closed_with(ws)
        loop = asyncio.get_running_loop()

        def closed_sockets_timed() -> int:
            return sum(1 for handle in getattr(loop, "_scheduled", [])
                       if getattr(getattr(handle, "_callback", None), "__self__", None).__class__.__name__
                       == "WebSocketResponse" and handle._callback.__self__.closed and not handle.cancelled())

        await eventually(_async(lambda: closed_sockets_timed() == 0))
    finally:
        await gateway.close()


def _async(predicate: Any) -> Any:
    async def check() -> bool:
        return bool(predicate())
    return check
