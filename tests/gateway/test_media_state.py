"""Microphone / camera state over /ws: the pre-join choice at connect, `media_state`, `participant_media`."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import ClientWebSocketResponse
from aiohttp.test_utils import TestClient

from signaling_gateway import messages as m

from .conftest import Gateway, receive, receive_type


def test_media_state_needs_two_booleans() -> None:
    parsed = m.parse_client_message('{"type": "media_state", "audio": true, "video": false}')
    assert (parsed.type, parsed.audio, parsed.video) == ("media_state", True, False)
    for bad in (
        {"type": "media_state"},
        {"type": "media_state", "audio": True},
        {"type": "media_state", "audio": 1, "video": 0},
        {"type": "media_state", "audio": "true", "video": False},
        {"type": "media_state", "audio": None, "video": True},
    ):
        try:
            m.parse_client_message(json.dumps(bad))
        except m.BadMessage as exc:
            assert exc.code == "bad_message"
            assert "audio" in exc.message
        else:
            raise AssertionError(f"accepted {bad}")


async def _meeting(gateway: Gateway) -> tuple[TestClient[Any, Any], str]:
    host = await gateway.host()
    response = await host.post("/api/meetings")
    assert response.status == 201, await response.text()
    return host, (await response.json())["id"]


async def _join(client: TestClient[Any, Any], meeting_id: str, query: str = "") -> tuple[ClientWebSocketResponse, str]:
    ws = await client.ws_connect(f"/ws?meeting={meeting_id}{query}")
    return ws, (await receive_type(ws, "welcome"))["participant_id"]


async def test_the_state_chosen_before_joining_is_in_welcome_and_participant_joined(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, host_id = await _join(host, meeting_id, "&audio=1&video=1")
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, guest_id = await _join(guest, meeting_id, "&audio=1&video=0")

    joined = await receive_type(host_ws, "participant_joined")
    assert joined["participant"] == {"id": guest_id, "name": "Ann", "audio": True, "video": False, "host": False}
    # A third person's welcome lists both others with their state.
    third = await online.guest(meeting_id, "Bo")
    third_ws = await third.ws_connect(f"/ws?meeting={meeting_id}")
    welcome = await receive_type(third_ws, "welcome")
    views = {p["id"]: p for p in welcome["participants"]}
    assert views[host_id] == {"id": host_id, "name": "host", "audio": True, "video": True, "host": True}
    assert views[guest_id] == {"id": guest_id, "name": "Ann", "audio": True, "video": False, "host": False}
    stored = await online.store.get_participant(guest_id)
    assert stored is not None and (stored.audio, stored.video) == (True, False)
    for ws in (host_ws, guest_ws, third_ws):
        await ws.close()


async def test_media_state_is_relayed_to_the_others_and_stored(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id, "&audio=1&video=1")
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, guest_id = await _join(guest, meeting_id, "&audio=0&video=0")
    await receive_type(host_ws, "participant_joined")

    await guest_ws.send_json({"type": "media_state", "audio": False, "video": True})
    update = await receive_type(host_ws, "participant_media")
    assert update == {"type": "participant_media", "participant_id": guest_id, "audio": False, "video": True}
    stored = await online.store.get_participant(guest_id)
    assert stored is not None and (stored.audio, stored.video) == (False, True)

    # A repeat is not broadcast again; the next real change is. The sender hears nothing about its own.
    await guest_ws.send_json({"type": "media_state", "audio": False, "video": True})
    await guest_ws.send_json({"type": "media_state", "audio": True, "video": True})
    update = await receive_type(host_ws, "participant_media")
    assert (update["audio"], update["video"]) == (True, True)
    await guest_ws.send_json({"type": "ping"})
    assert (await receive(guest_ws))["type"] == "pong"
    for ws in (host_ws, guest_ws):
        await ws.close()


async def test_a_bad_media_state_gets_an_error_and_changes_nothing(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id)
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, guest_id = await _join(guest, meeting_id, "&audio=1&video=1")
    await receive_type(host_ws, "participant_joined")

    await guest_ws.send_json({"type": "media_state", "audio": "off", "video": 0})
    error = await receive(guest_ws)
    assert (error["type"], error["code"]) == ("error", "bad_message")
    stored = await online.store.get_participant(guest_id)
    assert stored is not None and (stored.audio, stored.video) == (True, True)
    # Nothing reached the host: its next message is the answer to its own ping.
    await host_ws.send_json({"type": "ping"})
    assert (await receive(host_ws))["type"] == "pong"
    for ws in (host_ws, guest_ws):
        await ws.close()
