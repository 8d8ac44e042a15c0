"""The /ws signaling protocol: admission, error handling, and join/leave announcements."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from signaling_gateway.auth import guest_cookie_name
from signaling_gateway.meetings import new_meeting_id
from tests.processes import MediaServerProcess, start_media_server

from .conftest import Gateway, eventually, free_port, receive, receive_type, start_gateway


async def _refused(client: TestClient[Any, Any], path: str, **kwargs: Any) -> tuple[dict[str, Any], int | None]:
    ws = await client.ws_connect(path, **kwargs)
    message = await ws.receive_json(timeout=5)
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    return message, ws.close_code


# --- admission: no media server needed -------------------------------------------------------------------


async def test_ws_without_credentials_gets_an_error_then_4401(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    message, code = await _refused(client, f"/ws?meeting={meeting_id}")
    assert message["type"] == "error"
    assert message["code"] == "unauthorized"
    assert message["message"]
    assert code == 4401


async def test_ws_without_a_meeting_parameter_is_unauthorized(offline: Gateway) -> None:
    host = await offline.host()
    message, code = await _refused(host, "/ws")
    assert (message["code"], code) == ("unauthorized", 4401)


async def test_ws_refuses_a_guest_token_for_another_meeting(offline: Gateway) -> None:
    first, second = await offline.stored_meeting(), await offline.stored_meeting()
    guest = await offline.guest(first, "Ann")
    message, code = await _refused(guest, f"/ws?meeting={second}")
    assert (message["code"], code) == ("unauthorized", 4401)
    # Copying the token under the other meeting's cookie name does not help: the meeting is signed in.
    token = guest.session.cookie_jar.filter_cookies(guest.make_url("/"))[guest_cookie_name(first)].value
    guest.session.cookie_jar.update_cookies({guest_cookie_name(second): token})
    message, code = await _refused(guest, f"/ws?meeting={second}")
    assert (message["code"], code) == ("unauthorized", 4401)


async def test_ws_for_an_unknown_meeting_is_not_found(offline: Gateway) -> None:
    host = await offline.host()
    message, code = await _refused(host, f"/ws?meeting={new_meeting_id()}")
    assert (message["code"], code) == ("meeting_not_found", 4404)


async def test_ws_refuses_cross_origin_handshakes(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    host = await offline.host()
    message, code = await _refused(host, f"/ws?meeting={meeting_id}", origin="https://evil.example")
    assert (message["code"], code) == ("forbidden", 4403)


async def test_ws_when_the_media_server_is_down_explains_and_closes(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    host = await offline.host()
    message, code = await _refused(host, f"/ws?meeting={meeting_id}")
    assert (message["code"], code) == ("media_unavailable", 4503)

    async def nobody_left() -> bool:
        return await offline.store.list_participants(meeting_id) == []

    await eventually(nobody_left)


# --- with a real media server -----------------------------------------------------------------------------


async def _meeting(gateway: Gateway) -> tuple[TestClient[Any, Any], str]:
    host = await gateway.host()
    response = await host.post("/api/meetings")
    assert response.status == 201, await response.text()
    return host, (await response.json())["id"]


async def test_create_meeting_returns_links_and_expiry(online: Gateway) -> None:
    host = await online.host()
    response = await host.post("/api/meetings")
    body = await response.json()
    assert response.status == 201
    assert body["url"] == f"/room/{body['id']}"
    assert body["join_url"] == f"/join/{body['id']}"
    assert body["expires_at"].endswith("Z")
    assert await online.store.get_meeting(body["id"]) is not None


async def test_welcome_describes_the_participant(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    welcome = await receive(ws)
    assert welcome["type"] == "welcome"
    assert welcome["is_host"] is True
    assert welcome["name"] == "host"
    assert welcome["participants"] == []
    assert welcome["ice_servers"] == []
    assert welcome["participant_id"]
    assert await online.store.get_participant(welcome["participant_id"]) is not None
    await ws.close()


async def test_bad_messages_get_errors_and_the_socket_stays_usable(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive(ws)
    cases: list[tuple[str, str]] = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_message"),
        ('"just a string"', "bad_message"),
        ("{}", "bad_message"),
        ('{"type": 7}', "bad_message"),
        ('{"type": "launch_missiles"}', "bad_message"),
        ('{"type": "publish_offer"}', "bad_message"),
        ('{"type": "publish_offer", "sdp": 42}', "bad_message"),
        ('{"type": "subscribe_answer", "sdp": ""}', "bad_message"),
        (json.dumps({"type": "publish_offer", "sdp": "x" * (300 * 1024)}), "too_large"),
    ]
    for text, code in cases:
        await ws.send_str(text)
        reply = await receive(ws)
        assert reply["type"] == "error", text[:40]
        assert reply["code"] == code, text[:40]
        assert reply["message"]
    await ws.send_bytes(b"\x00\x01")
    assert (await receive(ws))["code"] == "bad_message"
    # Still the same working connection: it answers a ping.
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    assert not ws.closed
    await ws.close()


async def test_media_server_sdp_errors_pass_through(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive(ws)
    await ws.send_json({"type": "publish_offer", "sdp": "this is not sdp"})
    reply = await receive(ws)
    assert reply["type"] == "error"
    assert reply["code"] == "bad_sdp"
    assert "expected" in reply["message"]
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def test_joins_and_leaves_are_announced_to_the_others(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    host_id = (await receive(host_ws))["participant_id"]

    guest = await online.guest(meeting_id, "<script>alert(1)</script>")
    guest_ws = await guest.ws_connect(f"/ws?meeting={meeting_id}")
    welcome = await receive_type(guest_ws, "welcome")
    assert welcome["is_host"] is False
    assert welcome["name"] == "<script>alert(1)</script>"  # raw in JSON; the page sets it with textContent
    # Connected without ?audio/?video: mic and camera count as off until a media_state says otherwise.
    assert welcome["participants"] == [{"id": host_id, "name": "host", "audio": False, "video": False, "host": True}]

    joined = await receive_type(host_ws, "participant_joined")
    assert joined["participant"] == {
        "id": welcome["participant_id"],
        "name": "<script>alert(1)</script>",
        "audio": False,
        "video": False,
        "host": False,
    }

    # A bad message from the guest changes nothing for the host.
    await guest_ws.send_str("{oops")
    assert (await receive_type(guest_ws, "error"))["code"] == "bad_json"

    await guest_ws.close()
    left = await receive_type(host_ws, "participant_left")
    assert left["participant_id"] == welcome["participant_id"]

    async def guest_forgotten() -> bool:
        return await online.store.get_participant(welcome["participant_id"]) is None

    await eventually(guest_forgotten)
    await host_ws.close()


async def test_simultaneous_joins_each_learn_of_the_other_exactly_once(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    guests = [await online.guest(meeting_id, f"G{i}") for i in range(4)]
    sockets = await asyncio.gather(*(g.ws_connect(f"/ws?meeting={meeting_id}") for g in [host, *guests]))
    welcomes = [await receive_type(ws, "welcome") for ws in sockets]
    ids = [w["participant_id"] for w in welcomes]
    # Each participant's view: those in its welcome plus those announced later, with no duplicates.
    for ws, welcome in zip(sockets, welcomes, strict=True):
        seen = [p["id"] for p in welcome["participants"]]
        while len(seen) < len(ids) - 1:
            seen.append((await receive_type(ws, "participant_joined"))["participant"]["id"])
        assert sorted(seen) == sorted(i for i in ids if i != welcome["participant_id"])
    for ws in sockets:
        await ws.close()


async def test_renegotiation_needed_is_relayed_as_a_subscribe_offer(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    participant_id = (await receive(ws))["participant_id"]
    # Stand in for the media server's event frame (a real one needs a publishing browser: see tests/browser).
    online.media._dispatch_event(
        {"event": "renegotiation_needed", "params": {"room_id": meeting_id, "participant_id": participant_id}}
    )
    offer = await receive_type(ws, "subscribe_offer")
    assert offer["sdp"].startswith("v=0")
    # A second event while that offer is unanswered gets `busy` from the media server: nothing is sent.
    online.media._dispatch_event(
        {"event": "renegotiation_needed", "params": {"room_id": meeting_id, "participant_id": participant_id}}
    )
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"
    await ws.close()


async def types_until_pong(ws: Any) -> list[str]:
    """The types of everything queued for `ws` before the answer to a ping sent now (messages arrive in order)."""
    await ws.send_json({"type": "ping"})
    seen = []
    while (message := await receive(ws))["type"] != "pong":
        seen.append(message["type"])
    return seen


async def test_a_media_transport_death_with_the_socket_open_starts_its_media_anew(online: Gateway) -> None:
    # The media server gave up on the guest's transport (no ICE restart within its window) while its socket
    # stayed up: the gateway joins it to the room again under the same id and tells its client to build new
    # peer connections; the host never sees it leave.
    host, meeting_id = await _meeting(online)
    host_ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive(host_ws)
    guest = await online.guest(meeting_id, "Bo")
    guest_ws = await guest.ws_connect(f"/ws?meeting={meeting_id}")
    guest_id = (await receive_type(guest_ws, "welcome"))["participant_id"]
    await receive_type(host_ws, "participant_joined")
    await online.media.leave(meeting_id, guest_id)  # the media server forgets it, as after its window

    params = {"room_id": meeting_id, "participant_id": guest_id, "reason": "no ICE restart within 60 s"}
    online.media._dispatch_event({"event": "participant_left", "params": params})

    await receive_type(guest_ws, "media_reset")
    assert not guest_ws.closed
    room = (await online.media.stats(meeting_id))["rooms"][meeting_id]
    assert guest_id in room  # joined again, same id
    seen = await types_until_pong(host_ws)
    assert "participant_left" not in seen and "participant_joined" not in seen
    await guest_ws.close()
    assert (await receive_type(host_ws, "participant_left"))["participant_id"] == guest_id  # a goodbye is a leave
    await host_ws.close()


async def test_metrics_count_sockets_and_messages(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive(ws)
    await ws.send_str("nope")
    await receive(ws)
    text = await (await host.get("/metrics")).text()
    assert "gateway_websockets_connected 1.0" in text
    assert "gateway_participants 1.0" in text
    assert "gateway_media_connected 1.0" in text
    assert 'gateway_signaling_messages_total{direction="out",type="welcome"} 1.0' in text
    assert 'gateway_errors_total{code="bad_json"} 1.0' in text
    await ws.close()


async def test_frames_over_the_hard_limit_close_the_socket(media_server: MediaServerProcess) -> None:
    # A socket the server had to close is a drop, not a goodbye: the participant is parked for the reconnect
    # window (short here) and then leaves.
    online = await start_gateway(media_server.control_port, reconnect_window=0.5)
    assert await online.media.wait_connected(10)
    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive(ws)
    await ws.send_str(json.dumps({"type": "publish_offer", "sdp": "x" * (2 * 1024 * 1024)}))
    while True:
        message = await ws.receive(timeout=5)
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    assert ws.close_code == 1009

    async def nobody_left() -> bool:
        return await online.store.list_participants(meeting_id) == []

    await eventually(nobody_left)
    await online.close()


async def test_a_media_server_restart_rejoins_every_participant_under_its_id() -> None:
    # The media server dies and a new one takes its control port: the gateway joins each participant of the
    # live meetings again (the room is made on the first join) and tells each client to build new connections;
    # nobody's socket closes and nobody sees a leave or a join.
    port = free_port()
    media: MediaServerProcess | None = start_media_server("--control-port", str(port))
    gateway = await start_gateway(port)
    try:
        assert await gateway.media.wait_connected(10)
        host, meeting_id = await _meeting(gateway)
        host_ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
        host_id = (await receive_type(host_ws, "welcome"))["participant_id"]
        guest = await gateway.guest(meeting_id, "Bo")
        guest_ws = await guest.ws_connect(f"/ws?meeting={meeting_id}")
        guest_id = (await receive_type(guest_ws, "welcome"))["participant_id"]
        await receive_type(host_ws, "participant_joined")

        assert media is not None
        media.process.kill()
        media.process.wait(10)
        media = start_media_server("--control-port", str(port))
        await receive_type(host_ws, "media_reset", timeout=15)
        await receive_type(guest_ws, "media_reset", timeout=15)
        room = (await gateway.media.stats(meeting_id))["rooms"][meeting_id]
        assert set(room) == {host_id, guest_id}
        assert not host_ws.closed and not guest_ws.closed
        seen = await types_until_pong(host_ws)
        assert "participant_left" not in seen and "participant_joined" not in seen
        await guest_ws.close()
        await host_ws.close()
    finally:
        await gateway.close()
        if media is not None:
            media.stop()


async def test_clients_relayed_through_turn_are_counted_for_the_autoscaler(online: Gateway) -> None:
    from turn.autoscaler.relayed import relayed_in

    host, meeting_id = await _meeting(online)
    ws = await host.ws_connect(f"/ws?meeting={meeting_id}")
    await receive_type(ws, "welcome")

    async def relayed() -> int:
        return relayed_in(await (await host.get("/metrics")).text())

    assert await relayed() == 0
    await ws.send_json({"type": "connection_stats", "relayed": "yes"})
    assert (await receive_type(ws, "error"))["code"] == "bad_message"
    await ws.send_json({"type": "connection_stats", "relayed": True})
    await ws.send_json({"type": "ping"})
    await receive_type(ws, "pong")
    assert await relayed() == 1
    await ws.close()

    async def nobody_relayed() -> bool:
        return await relayed() == 0

    await eventually(nobody_relayed)
