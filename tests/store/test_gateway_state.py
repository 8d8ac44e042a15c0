"""The gateway's state in the store end to end: keys and TTLs with REDIS_URL, refresh while connected, reconnect."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import aioice.ice
import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection
from redis.asyncio import Redis

from signaling_gateway.store import MemoryStore, RedisStore, Store, Ttls
from signaling_gateway.store.records import candidates_in_sdp
from tests.gateway.conftest import Gateway, eventually
from tests.gateway.gateway_process import free_tcp_port, start_gateway_process
from tests.processes import MediaServerProcess
from tests.store.conftest import STORE_KINDS, start_gateway_with_store
from tests.store.redis_server import RedisServer, start_redis_server

SLACK = 60  # the issue's ±60 s on TTLs


@pytest.fixture
async def redis_gateway(
    media_server: MediaServerProcess, redis_server: RedisServer, redis_client: Redis
) -> AsyncIterator[Gateway]:
    """The gateway exactly as REDIS_URL configures it: create_app builds the RedisStore from the settings."""
    gateway = await start_gateway_with_store(media_server.control_port, settings={"redis_url": redis_server.url})
    try:
        yield gateway
    finally:
        await gateway.close()


def _store(kind: str, request: pytest.FixtureRequest, ttls: Ttls) -> Store:
    if kind == "memory":
        return MemoryStore(ttls=ttls)
    server: RedisServer = request.getfixturevalue("redis_server")
    with server.client() as client:
        client.flushdb()
    return RedisStore.from_url(server.url, ttls=ttls)


@pytest.fixture(params=STORE_KINDS)
async def gateway(request: pytest.FixtureRequest, media_server: MediaServerProcess) -> AsyncIterator[Gateway]:
    """A gateway on each store, production TTLs."""
    started = await start_gateway_with_store(media_server.control_port, _store(request.param, request, Ttls()))
    try:
        yield started
    finally:
        await started.close()


# Refreshes every 0.2 s and a reconnect token that lives 1 s: many refresh periods in a short test.
# (The WebSocket heartbeat keeps its 30 s: a sub-second one would close sockets on a busy test machine.)
FAST_REFRESH = 0.2
SHORT = Ttls(participant=1.0, reconnect=1.0)


@pytest.fixture(params=STORE_KINDS)
async def fast_gateway(request: pytest.FixtureRequest, media_server: MediaServerProcess) -> AsyncIterator[Gateway]:
    store = _store(request.param, request, SHORT)
    started = await start_gateway_with_store(media_server.control_port, store, store_refresh_interval=FAST_REFRESH)
    try:
        yield started
    finally:
        await started.close()


class Socket:
    """A client socket read continuously, as a browser does (it also answers the server's protocol pings)."""

    def __init__(self, ws: ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pump = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for message in self.ws:
            if message.type == WSMsgType.TEXT:
                data = json.loads(message.data)
                if data.get("type") != "ping":
                    self.messages.put_nowait(data)

    async def next(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.messages.get()
                if message["type"] == kind:
                    return message

    async def closed(self, timeout: float = 5.0) -> int | None:
        await asyncio.wait_for(asyncio.shield(self._pump), timeout)
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._pump


async def _create_meeting(gateway: Gateway) -> tuple[TestClient[Any, Any], str]:
    host = await gateway.host()
    response = await host.post("/api/meetings")
    assert response.status == 201, await response.text()
    return host, (await response.json())["id"]


async def _connect(client: TestClient[Any, Any], meeting_id: str, reconnect: str | None = None) -> Socket:
    query = f"/ws?meeting={meeting_id}" + (f"&reconnect={reconnect}" if reconnect else "")
    return Socket(await client.ws_connect(query))


async def _offer(monkeypatch: pytest.MonkeyPatch) -> tuple[RTCPeerConnection, str]:
    """A real WebRTC offer with its candidates gathered (aiortc does not trickle), on loopback only."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


async def _ttl(client: Redis, key: str) -> int:
    ttl = int(await client.ttl(key))
    assert ttl > 0, f"{key}: TTL {ttl} (-2: no such key)"
    return ttl


async def test_with_redis_url_keys_have_their_ttls_and_participant_keys_go_after_leave(
    redis_gateway: Gateway, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(redis_gateway.store, RedisStore)
    host, meeting_id = await _create_meeting(redis_gateway)
    host_ws = await _connect(host, meeting_id)
    host_id = (await host_ws.next("welcome"))["participant_id"]
    guest = await redis_gateway.guest(meeting_id, "Bo")
    guest_ws = await _connect(guest, meeting_id)
    welcome = await guest_ws.next("welcome")
    guest_id, token = welcome["participant_id"], welcome["reconnect_token"]
    pc, offer = await _offer(monkeypatch)
    try:
        await guest_ws.ws.send_json({"type": "publish_offer", "sdp": offer})
        answer = (await guest_ws.next("publish_answer"))["sdp"]
    finally:
        await pc.close()

    assert 8 * 3600 - SLACK <= await _ttl(redis_client, f"meeting:{meeting_id}") <= 8 * 3600
    assert 8 * 3600 - SLACK <= await _ttl(redis_client, f"participant:{guest_id}") <= 8 * 3600
    assert 8 * 3600 - SLACK <= await _ttl(redis_client, f"participant:{host_id}") <= 8 * 3600
    assert 300 - SLACK <= await _ttl(redis_client, f"ice:{meeting_id}:{guest_id}") <= 300
    assert 60 - SLACK < await _ttl(redis_client, f"reconnect:{token}") <= 60
    meeting = json.loads(await redis_client.get(f"meeting:{meeting_id}") or "")
    assert (meeting["host"], meeting["active"], meeting["participants"]) == ("host", True, [host_id, guest_id])
    person = json.loads(await redis_client.get(f"participant:{guest_id}") or "")
    assert (person["name"], person["roomID"], person["isHost"]) == ("Bo", meeting_id, False)
    ice = json.loads(await redis_client.get(f"ice:{meeting_id}:{guest_id}") or "")
    assert ice["server"] == list(candidates_in_sdp(answer)) and ice["server"]
    assert ice["client"] == list(candidates_in_sdp(offer)) and ice["client"]
    grant = json.loads(await redis_client.get(f"reconnect:{token}") or "")
    assert (grant["userID"], grant["roomID"]) == (guest_id, meeting_id)

    await guest_ws.close()
    assert (await host_ws.next("participant_left"))["participant_id"] == guest_id

    async def guest_keys_gone() -> bool:
        return not await redis_client.exists(f"participant:{guest_id}", f"ice:{meeting_id}:{guest_id}")

    await eventually(guest_keys_gone)
    meeting = json.loads(await redis_client.get(f"meeting:{meeting_id}") or "")
    assert meeting["participants"] == [host_id]
    assert await redis_client.exists(f"participant:{host_id}")
    # The guest's reconnect token outlives the socket (that is its point) and expires by its TTL.
    assert 0 < await _ttl(redis_client, f"reconnect:{token}") <= 60
    await host_ws.close()


DROP = 4000  # a close code that is not a goodbye (1000/1001): to the gateway, the network dropped


async def test_reconnecting_with_the_token_resumes_the_same_participant(gateway: Gateway) -> None:
    host, meeting_id = await _create_meeting(gateway)
    host_ws = await _connect(host, meeting_id)
    await host_ws.next("welcome")
    guest = await gateway.guest(meeting_id, "Bo")
    first = await _connect(guest, meeting_id)
    welcome = await first.next("welcome")
    assert welcome["resumed"] is False and welcome["reconnect_window_s"] == 60
    await host_ws.next("participant_joined")
    await first.ws.close(code=DROP)
    # Dropped, not gone: the host keeps the tile and learns it is reconnecting.
    dropped = await host_ws.next("participant_connection")
    assert (dropped["participant_id"], dropped["connected"]) == (welcome["participant_id"], False)

    again = await _connect(guest, meeting_id, reconnect=welcome["reconnect_token"])
    resumed = await again.next("welcome")
    assert resumed["participant_id"] == welcome["participant_id"]
    assert (resumed["resumed"], resumed["media_reset"]) == (True, False)  # its media session was kept
    assert resumed["reconnect_token"] and resumed["reconnect_token"] != welcome["reconnect_token"]
    back = await host_ws.next("participant_connection")
    assert (back["participant_id"], back["connected"]) == (welcome["participant_id"], True)
    await host_ws.ws.send_json({"type": "ping"})
    await host_ws.next("pong")
    seen = [host_ws.messages.get_nowait()["type"] for _ in range(host_ws.messages.qsize())]
    assert "participant_left" not in seen and "participant_joined" not in seen
    assert await gateway.store.get_participant(welcome["participant_id"]) is not None
    await again.close()
    assert (await host_ws.next("participant_left"))["participant_id"] == welcome["participant_id"]  # a goodbye

    # Single use: the same token a second time makes a new participant.
    third = await _connect(guest, meeting_id, reconnect=welcome["reconnect_token"])
    fresh = await third.next("welcome")
    assert fresh["resumed"] is False and fresh["participant_id"] != welcome["participant_id"]
    await third.close()
    await host_ws.close()


async def test_a_dropped_participant_leaves_once_its_reconnect_window_is_over(media_server: MediaServerProcess,
                                                                              request: pytest.FixtureRequest) -> None:
    gateway = await start_gateway_with_store(media_server.control_port, _store("memory", request, Ttls()),
                                             settings={"reconnect_window": 1.0})
    store = gateway.store
    try:
        host, meeting_id = await _create_meeting(gateway)
        host_ws = await _connect(host, meeting_id)
        await host_ws.next("welcome")
        guest = await gateway.guest(meeting_id, "Bo")
        guest_ws = await _connect(guest, meeting_id)
        guest_id = (await guest_ws.next("welcome"))["participant_id"]
        await guest_ws.ws.close(code=DROP)
        await host_ws.next("participant_connection")
        assert guest_id in (await gateway.media.stats(meeting_id))["rooms"][meeting_id]  # media kept meanwhile
        assert (await host_ws.next("participant_left", timeout=5))["participant_id"] == guest_id

        async def media_forgot_it() -> bool:
            return guest_id not in (await gateway.media.stats(meeting_id))["rooms"][meeting_id]

        await eventually(media_forgot_it)
        assert await store.get_participant(guest_id) is None
        await host_ws.close()
    finally:
        await gateway.close()


async def test_a_token_works_only_for_its_meeting_and_its_owner(gateway: Gateway) -> None:
    host, meeting_id = await _create_meeting(gateway)
    _, other_meeting = await _create_meeting(gateway)
    ann = await gateway.guest(meeting_id, "Ann")
    ann_ws = await _connect(ann, meeting_id)
    welcome = await ann_ws.next("welcome")
    token, ann_id = welcome["reconnect_token"], welcome["participant_id"]
    await ann_ws.close()

    async def try_token(client: TestClient[Any, Any], meeting: str) -> dict[str, Any]:
        ws = await _connect(client, meeting, reconnect=token)
        message = await ws.next("welcome")
        await ws.close()
        return message

    bo = await gateway.guest(meeting_id, "Bo")  # same meeting, another guest cookie
    assert (await try_token(bo, meeting_id))["participant_id"] != ann_id
    assert (await try_token(host, meeting_id))["participant_id"] != ann_id  # the host is someone else too
    # Ann's browser, now also a guest of another meeting: the token is still not for that one.
    response = await ann.post(f"/join/{other_meeting}", data={"name": "Ann"}, allow_redirects=False)
    assert response.status == 302
    assert (await try_token(ann, other_meeting))["participant_id"] != ann_id
    for junk in ("x" * 500, "nope"):
        ws = await _connect(ann, meeting_id, reconnect=junk)
        assert (await ws.next("welcome"))["resumed"] is False
        await ws.close()
    # None of the refused attempts used the token up: its owner still gets back in.
    back = await try_token(ann, meeting_id)
    assert (back["participant_id"], back["resumed"]) == (ann_id, True)


async def test_reconnecting_while_the_old_socket_is_open_replaces_it(gateway: Gateway) -> None:
    host, meeting_id = await _create_meeting(gateway)
    host_ws = await _connect(host, meeting_id)
    await host_ws.next("welcome")
    guest = await gateway.guest(meeting_id, "Bo")
    old = await _connect(guest, meeting_id)
    welcome = await old.next("welcome")
    guest_id = welcome["participant_id"]
    await host_ws.next("participant_joined")

    # The network changed: the client reconnects before the server noticed the old socket is dead.
    new = await _connect(guest, meeting_id, reconnect=welcome["reconnect_token"])
    assert (await old.next("error"))["code"] == "replaced"
    assert await old.closed() == 4409
    resumed = await new.next("welcome")
    assert (resumed["participant_id"], resumed["resumed"]) == (guest_id, True)
    # The others see nothing leave or join: the same participant simply carries on.
    await host_ws.ws.send_json({"type": "ping"})
    await host_ws.next("pong")
    seen = [host_ws.messages.get_nowait()["type"] for _ in range(host_ws.messages.qsize())]
    assert "participant_left" not in seen and "participant_joined" not in seen
    # The old socket's end did not delete the participant's record.
    assert await gateway.store.get_participant(guest_id) is not None
    assert guest_id in [p.id for p in await gateway.store.list_participants(meeting_id)]
    await new.ws.send_json({"type": "ping"})
    await new.next("pong")
    await new.close()
    await host_ws.close()


async def test_ttls_are_refreshed_while_connected_and_the_token_expires_after_close(fast_gateway: Gateway) -> None:
    store = fast_gateway.store
    host, meeting_id = await _create_meeting(fast_gateway)
    ws = await _connect(host, meeting_id)
    welcome = await ws.next("welcome")
    participant_id, token = welcome["participant_id"], welcome["reconnect_token"]

    # Connected for three times the 1 s TTLs: the ping loop keeps both keys alive throughout.
    loop = asyncio.get_running_loop()
    until = loop.time() + 3 * SHORT.reconnect
    while loop.time() < until:
        assert await store.get_reconnect(token) is not None, "reconnect token lapsed while connected"
        assert await store.get_participant(participant_id) is not None, "participant lapsed while connected"
        await asyncio.sleep(0.05)

    await ws.close()

    async def participant_gone() -> bool:
        return await store.get_participant(participant_id) is None

    await eventually(participant_gone)
    assert await store.get_reconnect(token) is not None  # left, but still within its TTL

    async def token_gone() -> bool:
        return await store.get_reconnect(token) is None

    await eventually(token_gone, timeout=SHORT.reconnect + 3)
    # Too late: the client comes back as a new participant.
    late = await _connect(host, meeting_id, reconnect=token)
    fresh = await late.next("welcome")
    assert (fresh["resumed"], fresh["participant_id"] != participant_id) == (False, True)
    await late.close()


class CountingRedisStore(RedisStore):
    touches = 0

    async def touch_participant(self, participant_id: str) -> bool:
        self.touches += 1
        return await super().touch_participant(participant_id)


async def test_a_redis_outage_is_reported_and_leaves_still_reach_the_media_server(
    media_server: MediaServerProcess, redis_server: RedisServer
) -> None:
    own_redis = start_redis_server()  # this test stops it; the session's server stays up for the others
    store = CountingRedisStore.from_url(own_redis.url)
    assert isinstance(store, CountingRedisStore)
    gateway = await start_gateway_with_store(media_server.control_port, store, store_refresh_interval=FAST_REFRESH)
    try:
        host, meeting_id = await _create_meeting(gateway)
        ws = await _connect(host, meeting_id)
        participant_id = (await ws.next("welcome"))["participant_id"]

        async def in_media_room() -> bool:
            return participant_id in (await gateway.media.stats(meeting_id))["rooms"][meeting_id]

        assert await in_media_room()
        own_redis.stop()
        await ws.ws.send_json({"type": "media_state", "audio": True, "video": False})
        error = await ws.next("error")
        assert error["code"] == "store_unavailable"
        assert "127.0.0.1" not in error["message"]  # where Redis lives is for the log, not the browser
        touches = store.touches

        async def refreshes_failed() -> bool:
            return store.touches >= touches + 3  # each one raised StoreUnavailable inside the refresh loop

        await eventually(refreshes_failed)
        await ws.ws.send_json({"type": "ping"})
        await ws.next("pong")  # the socket survived them
        await ws.close()

        async def media_forgot_it() -> bool:
            return not await in_media_room()

        await eventually(media_forgot_it)
        # New sockets are refused with a reason while the store is down.
        late = await _connect(host, meeting_id)
        assert (await late.next("error"))["code"] == "store_unavailable"
        assert await late.closed() == 1011
    finally:
        await gateway.close()
        own_redis.stop()


async def test_the_gateway_process_uses_redis_url(redis_server: RedisServer, redis_client: Redis) -> None:
    gateway = start_gateway_process({"REDIS_URL": redis_server.url, "HOST_PASSWORD": "pw", "SECRET_KEY": "s" * 32})
    try:
        assert gateway.healthz() is not None
    finally:
        assert gateway.stop() == 0
    started = [json.loads(line) for line in gateway.log().splitlines() if '"gateway_started"' in line]
    assert started and started[0]["store"] == "RedisStore"


def test_the_gateway_process_without_redis_url_uses_memory() -> None:
    gateway = start_gateway_process({"HOST_PASSWORD": "pw"}, wait_media=False)
    try:
        assert gateway.healthz() is not None
    finally:
        gateway.stop()
    assert '"store": "MemoryStore"' in gateway.log()


def test_the_gateway_process_refuses_to_start_without_its_redis() -> None:
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_tcp_port()}/0", "HOST_PASSWORD": "pw", "HTTP_PORT": "0",
           "SECRET_KEY": "s" * 32}
    result = subprocess.run(
        [sys.executable, "-m", "signaling_gateway"],
        env={**{k: v for k, v in os.environ.items() if k != "MEDIA_SERVER_URL"}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "redis_unavailable" in result.stderr



def test_the_gateway_process_refuses_redis_without_a_secret_key(redis_server: RedisServer) -> None:
    # Meetings in Redis would outlive the gateway, but a random signing key would lock everyone out after a
    # restart: refuse at start, with the reason.
    env = {"REDIS_URL": redis_server.url, "HOST_PASSWORD": "pw", "HTTP_PORT": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "signaling_gateway"],
        env={**{k: v for k, v in os.environ.items() if k not in ("MEDIA_SERVER_URL", "SECRET_KEY")}, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "SECRET_KEY" in result.stderr


async def test_the_hosts_meeting_list_comes_from_the_store_not_the_gateway(
    media_server: MediaServerProcess, redis_server: RedisServer, redis_client: Redis
) -> None:
    # A gateway restarted on the same Redis (here: a second one) lists the meetings the first one created.
    await redis_client.flushdb()
    first = await start_gateway_with_store(media_server.control_port, settings={"redis_url": redis_server.url})
    second = await start_gateway_with_store(media_server.control_port, settings={"redis_url": redis_server.url})
    try:
        _, meeting_id = await _create_meeting(first)
        host = await second.host()
        listed = await (await host.get("/api/meetings")).json()
        assert [m["id"] for m in listed["meetings"]] == [meeting_id]
    finally:
        await first.close()
        await second.close()
