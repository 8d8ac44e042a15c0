"""Two gateways on one Redis and one media server: one meeting whose participants sit on different gateways."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from mediaserver import control_protocol as cp
from signaling_gateway import messages as m
from signaling_gateway.app import HUB_KEY, SIGNALING_KEY
from signaling_gateway.bus import CHANNEL, MAX_EVENT_BYTES
from tests.gateway.conftest import Gateway, eventually
from tests.processes import MediaServerProcess
from tests.store.conftest import start_gateway_with_store
from tests.store.redis_server import RedisServer
from tests.store.test_gateway_state import DROP, Socket, _create_meeting

WINDOW = 1.5  # gateway B's reconnect window: short, so its expiry would fire within the test


@pytest.fixture
async def pair(media_server: MediaServerProcess, redis_server: RedisServer,
               redis_client: Redis) -> AsyncIterator[tuple[Gateway, Gateway]]:
    """Gateways A and B exactly as REDIS_URL (and a shared SECRET_KEY) configure them."""
    a = await start_gateway_with_store(media_server.control_port, settings={"redis_url": redis_server.url})
    b = await start_gateway_with_store(media_server.control_port,
                                       settings={"redis_url": redis_server.url, "reconnect_window": WINDOW})
    try:
        yield a, b
    finally:
        await _close(b)
        await _close(a)


async def _close(gateway: Gateway) -> None:
    try:
        await asyncio.wait_for(gateway.close(), 15)
    except TimeoutError:
        for task in asyncio.all_tasks():
            print(task.get_name())
            task.print_stack(limit=8)
        raise


async def _connect(client: TestClient[Any, Any], meeting_id: str, query: str = "") -> Socket:
    return Socket(await client.ws_connect(f"/ws?meeting={meeting_id}{query}"))


async def _drain(socket: Socket) -> list[str]:
    """The types of everything queued for this socket until now (a ping's pong comes after it)."""
    await socket.ws.send_json({"type": "ping"})
    seen = []
    async with asyncio.timeout(5):
        while (message := await socket.messages.get())["type"] != "pong":
            seen.append(message["type"])
    return seen


def _cookies(client: TestClient[Any, Any]) -> str:
    """The browser's cookies, to send to the other gateway (same site, a load balancer picks the gateway)."""
    return "; ".join(f"{cookie.key}={cookie.value}" for cookie in client.session.cookie_jar)


async def _host_and_guest(a: Gateway, b: Gateway) -> tuple[Socket, str, Socket, dict[str, Any], str]:
    host_ws, host_id, guest_ws, welcome, meeting_id, _ = await _host_and_guest_client(a, b)
    return host_ws, host_id, guest_ws, welcome, meeting_id


async def _host_and_guest_client(
    a: Gateway, b: Gateway
) -> tuple[Socket, str, Socket, dict[str, Any], str, TestClient[Any, Any]]:
    host, meeting_id = await _create_meeting(a)
    host_ws = await _connect(host, meeting_id, "&audio=1")
    host_id = (await host_ws.next("welcome"))["participant_id"]
    guest = await b.guest(meeting_id, "Bohdan")  # the join form on B: the meeting is in the shared Redis
    guest_ws = await _connect(guest, meeting_id, "&audio=1&video=1")
    welcome = await guest_ws.next("welcome")
    return host_ws, host_id, guest_ws, welcome, meeting_id, guest


async def test_a_guest_on_another_gateway_sees_the_host_and_the_host_sees_it(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, host_id, guest_ws, welcome, _ = await _host_and_guest(a, b)
    listed = {p["id"]: p for p in welcome["participants"]}
    assert set(listed) == {host_id} and (listed[host_id]["audio"], listed[host_id]["video"]) == (True, False)
    joined = await host_ws.next("participant_joined")
    assert joined["participant"]["id"] == welcome["participant_id"] and joined["participant"]["name"] == "Bohdan"

    await guest_ws.ws.send_json({"type": "media_state", "audio": False, "video": True})
    update = await host_ws.next("participant_media")
    assert (update["participant_id"], update["audio"], update["video"]) == (welcome["participant_id"], False, True)
    await host_ws.ws.send_json({"type": "media_state", "audio": False, "video": True})
    update = await guest_ws.next("participant_media")
    assert (update["participant_id"], update["audio"], update["video"]) == (host_id, False, True)

    await guest_ws.close()  # a goodbye on B: the host on A sees it leave
    assert (await host_ws.next("participant_left"))["participant_id"] == welcome["participant_id"]
    await host_ws.close()


async def test_host_actions_from_one_gateway_reach_a_guest_on_the_other(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, _, guest_ws, welcome, _ = await _host_and_guest(a, b)
    guest_id = welcome["participant_id"]
    await host_ws.next("participant_joined")

    await host_ws.ws.send_json({"type": "host_action", "action": "mute", "participant_id": guest_id})
    assert (await guest_ws.next("force_mute"))["kind"] == "audio"
    shown = await host_ws.next("participant_media")  # everyone's indicator turns off at once
    assert (shown["participant_id"], shown["audio"]) == (guest_id, False)
    moderation = await host_ws.next("moderation")
    assert (moderation["participant_id"], moderation["audio_blocked"]) == (guest_id, True)
    # Enforced on B, where the guest's socket is: its claim to be unmuted changes nothing for the others.
    await guest_ws.ws.send_json({"type": "media_state", "audio": True, "video": True})
    assert "participant_media" not in await _drain(host_ws)

    await guest_ws.ws.send_json({"type": "request_unmute", "kind": "audio"})
    asked = await host_ws.next("unmute_requested")
    assert (asked["participant_id"], asked["kind"]) == (guest_id, "audio")
    await host_ws.ws.send_json({"type": "host_action", "action": "unmute", "participant_id": guest_id})
    assert (await guest_ws.next("unmute_allowed"))["kind"] == "audio"

    await host_ws.ws.send_json({"type": "host_action", "action": "lock"})
    assert (await guest_ws.next("meeting_locked"))["locked"] is True

    await host_ws.ws.send_json({"type": "host_action", "action": "kick", "participant_id": guest_id})
    await guest_ws.next("kicked")
    assert await guest_ws.closed() == m.CLOSE_KICKED
    assert (await host_ws.next("participant_left"))["participant_id"] == guest_id
    await host_ws.close()


async def test_a_host_action_on_someone_not_in_the_meeting_is_refused(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, _, guest_ws, _, _ = await _host_and_guest(a, b)
    await host_ws.ws.send_json({"type": "host_action", "action": "mute", "participant_id": "nobody"})
    assert (await host_ws.next("error"))["code"] == "not_found"
    await guest_ws.close()
    await host_ws.close()


async def test_ending_on_one_gateway_closes_the_meeting_on_the_other(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, _, guest_ws, _, meeting_id = await _host_and_guest(a, b)
    await host_ws.ws.send_json({"type": "host_action", "action": "end"})
    await guest_ws.next("meeting_ended")
    assert await guest_ws.closed() == m.CLOSE_MEETING_ENDED
    assert await host_ws.closed() == m.CLOSE_MEETING_ENDED
    await eventually(lambda: _no_sessions(b, meeting_id))


async def _no_sessions(gateway: Gateway, meeting_id: str) -> bool:
    return not gateway.server.app[HUB_KEY].in_meeting(meeting_id)


async def test_a_participant_dropped_on_one_gateway_resumes_on_the_other(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, _, guest_ws, welcome, meeting_id, guest = await _host_and_guest_client(a, b)
    guest_id = welcome["participant_id"]
    await host_ws.next("participant_joined")
    await guest_ws.ws.close(code=DROP)
    dropped = await host_ws.next("participant_connection")
    assert (dropped["participant_id"], dropped["connected"]) == (guest_id, False)

    # The guest's browser comes back through A (a load balancer's choice) with its token and its cookie.
    on_a = await a.client()
    again = Socket(await on_a.ws_connect(f"/ws?meeting={meeting_id}&reconnect={welcome['reconnect_token']}",
                                         headers={"Cookie": _cookies(guest)}))
    resumed = await again.next("welcome")
    assert (resumed["participant_id"], resumed["resumed"], resumed["media_reset"]) == (guest_id, True, False)
    back = await host_ws.next("participant_connection")
    assert (back["participant_id"], back["connected"]) == (guest_id, True)

    hub_b = b.server.app[HUB_KEY]
    await eventually(lambda: _not_parked(hub_b, meeting_id, guest_id))  # B let go of it, no leave
    await asyncio.sleep(WINDOW + 0.5)  # past B's reconnect window: its expiry, had it stayed, would fire now
    assert "participant_left" not in await _drain(host_ws)
    assert await a.store.get_participant(guest_id) is not None
    assert guest_id in (await a.media.stats(meeting_id))["rooms"][meeting_id]
    await again.close()
    await host_ws.close()


async def _not_parked(hub: Any, meeting_id: str, participant_id: str) -> bool:
    return all(p.participant_id != participant_id for p in hub.parked_in(meeting_id))


async def test_a_media_drop_is_departed_only_by_the_participants_own_gateway(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host_ws, host_id, guest_ws, _, meeting_id = await _host_and_guest(a, b)
    await host_ws.next("participant_joined")
    # Every gateway hears the media server's events (here: the host's transport ran out while its socket on A
    # stayed up). A rejoins it; B, which does not hold it, must not declare it gone.
    for gateway in (b, a):
        gateway.server.app[SIGNALING_KEY]._sync.on_media_event(cp.PARTICIPANT_LEFT,
                                                               {"room_id": meeting_id, "participant_id": host_id})
    assert (await host_ws.next("media_reset"))["type"] == "media_reset"  # A's rejoin
    assert "participant_left" not in await _drain(guest_ws)
    assert await b.store.get_participant(host_id) is not None
    await guest_ws.close()
    await host_ws.close()


async def _metric(gateway: Gateway, name: str) -> float:
    client = await gateway.client()
    text = await (await client.get("/metrics")).text()
    values = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    assert values, f"{name} not exported"
    return float(values[0])


async def test_junk_on_the_bus_is_counted_and_disturbs_no_meeting(pair: tuple[Gateway, Gateway],
                                                                  redis_client: Redis) -> None:
    a, b = pair
    assert await _metric(a, "gateway_bus_connected") == 1.0 and await _metric(b, "gateway_bus_connected") == 1.0
    host_ws, host_id, guest_ws, _, meeting_id = await _host_and_guest(a, b)
    await host_ws.next("participant_joined")
    junk = ["not json", "[1, 2]", '{"op": "deliver"}', '{"op": 5, "meeting": "m", "from": "x"}',
            "x" * (MAX_EVENT_BYTES + 1),
            # Well-formed but not deliverable: no message type, an unknown audience, an unknown command.
            json.dumps({"op": "deliver", "meeting": meeting_id, "from": "elsewhere", "to": "all", "message": {}}),
            json.dumps({"op": "deliver", "meeting": meeting_id, "from": "elsewhere", "to": "everyone",
                        "message": {"type": "participant_left", "participant_id": host_id}}),
            json.dumps({"op": "self_destruct", "meeting": meeting_id, "from": "elsewhere"})]
    for text in junk:
        await redis_client.publish(CHANNEL, text)

    async def all_rejected() -> bool:
        return await _metric(b, "gateway_bus_events_lost") >= 5  # the five that are not events at all

    await eventually(all_rejected)
    # The meeting goes on over the same bus: the guest's toggle on B still reaches the host on A.
    await guest_ws.ws.send_json({"type": "media_state", "audio": False, "video": False})
    update = await host_ws.next("participant_media")
    assert (update["audio"], update["video"]) == (False, False)
    assert "participant_left" not in await _drain(guest_ws)
    await guest_ws.close()
    await host_ws.close()


async def test_a_host_signed_in_on_one_gateway_is_signed_in_on_every_gateway(pair: tuple[Gateway, Gateway]) -> None:
    a, b = pair
    host, meeting_id = await _create_meeting(a)
    on_b = await b.client()
    listed = await on_b.get("/api/meetings", headers={"Cookie": _cookies(host)})
    assert listed.status == 200, await listed.text()
    assert meeting_id in [meeting["id"] for meeting in (await listed.json())["meetings"]]
    # The host's socket on B is the host's (it may act), not a guest's.
    host_ws = Socket(await on_b.ws_connect(f"/ws?meeting={meeting_id}", headers={"Cookie": _cookies(host)}))
    assert (await host_ws.next("welcome"))["is_host"] is True
    anonymous = await (await b.client()).get("/api/meetings")
    assert anonymous.status == 401
    await host_ws.close()
