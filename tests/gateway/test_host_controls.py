"""Host controls over /ws against a real media server: who may use them, and what each one enforces."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from signaling_gateway import messages as m

from .conftest import WS_TIMEOUT, Gateway, receive, receive_type

Client = TestClient[Any, Any]


async def _meeting(gateway: Gateway) -> tuple[Client, str]:
    host = await gateway.host()
    response = await host.post("/api/meetings")
    assert response.status == 201, await response.text()
    return host, (await response.json())["id"]


async def _join(client: Client, meeting_id: str, query: str = "") -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    ws = await client.ws_connect(f"/ws?meeting={meeting_id}{query}")
    return ws, await receive_type(ws, "welcome")


async def _action(ws: ClientWebSocketResponse, action: str, participant_id: str | None = None) -> None:
    message: dict[str, Any] = {"type": "host_action", "action": action}
    if participant_id is not None:
        message["participant_id"] = participant_id
    await ws.send_json(message)


async def _barrier(ws: ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Everything queued for this socket before now (a ping's pong comes after it), pings and stats aside."""
    await ws.send_json({"type": "ping"})
    seen = []
    while (message := await receive(ws))["type"] != "pong":
        seen.append(message)
    return seen


async def _closed_with(ws: ClientWebSocketResponse, kind: str) -> tuple[dict[str, Any], int | None]:
    """The message of `kind` the server sends before closing, and the close code."""
    message = await receive_type(ws, kind)
    while True:
        frame = await ws.receive(timeout=WS_TIMEOUT)
        if frame.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
            return message, ws.close_code


async def _refused(client: Client, path: str) -> tuple[dict[str, Any], int | None]:
    ws = await client.ws_connect(path)
    return await _closed_with(ws, "error")


def test_host_action_messages_are_checked() -> None:
    parsed = m.parse_client_message('{"type": "host_action", "action": "mute", "participant_id": "p1"}')
    assert (parsed.action, parsed.participant_id) == ("mute", "p1")
    assert m.parse_client_message('{"type": "host_action", "action": "end"}').participant_id is None
    for bad in (
        {"type": "host_action"},
        {"type": "host_action", "action": "explode"},
        {"type": "host_action", "action": "kick"},
        {"type": "host_action", "action": "mute", "participant_id": 5},
        {"type": "host_action", "action": "mute", "participant_id": "p" * 65},
        {"type": "request_unmute", "kind": "screen"},
    ):
        with pytest.raises(m.BadMessage) as info:
            m.parse_client_message(json.dumps(bad))
        assert info.value.code == "bad_message", bad


async def test_a_guest_sending_host_actions_is_refused_and_nothing_happens(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, host_welcome = await _join(host, meeting_id, "&audio=1")
    guest = await online.guest(meeting_id, "Mallory")
    guest_ws, _ = await _join(guest, meeting_id)
    for action, target in [("mute", host_welcome["participant_id"]), ("kick", host_welcome["participant_id"]),
                           ("lock", None), ("record_start", None), ("end", None)]:  # fmt: skip
        await _action(guest_ws, action, target)
        reply = await receive(guest_ws)
        assert (reply["type"], reply["code"]) == ("error", "forbidden"), action
    stored = await online.store.get_meeting(meeting_id)
    assert stored is not None and stored.active and not stored.locked
    # The host was told nothing (no force_mute, kicked, meeting_ended, recording) and is still connected.
    assert [msg["type"] for msg in await _barrier(host_ws)] == ["participant_joined"]
    assert (await online.store.get_participant(host_welcome["participant_id"])) is not None
    third = await online.client()
    assert (await third.get(f"/join/{meeting_id}")).status == 200


async def test_bad_targets_are_refused(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, welcome = await _join(host, meeting_id)
    await _action(host_ws, "mute", "p-nobody")
    assert (await receive(host_ws))["code"] == "not_found"
    await _action(host_ws, "kick", welcome["participant_id"])
    assert (await receive(host_ws))["code"] == "bad_request", "the host cannot kick itself"


async def test_a_muted_guest_stays_muted_until_the_host_allows_it(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id)
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, welcome = await _join(guest, meeting_id, "&audio=1&video=1")
    ann = welcome["participant_id"]
    await receive_type(host_ws, "participant_joined")

    await _action(host_ws, "mute", ann)
    assert await receive_type(guest_ws, "force_mute") == {"type": "force_mute", "kind": "audio",
                                                            "allowed_to_unmute": False}
    seen = await _barrier(host_ws)
    assert {"type": "participant_media", "participant_id": ann, "audio": False, "video": True} in seen
    assert {"type": "moderation", "participant_id": ann, "audio_blocked": True, "video_blocked": False} in seen
    stored = await online.store.get_participant(ann)
    assert stored is not None and not stored.audio

    # The guest's client claims its microphone is on: nobody is told so.
    await guest_ws.send_json({"type": "media_state", "audio": True, "video": True})
    await _barrier(guest_ws)
    assert await _barrier(host_ws) == []

    # A reload (new socket, same guest cookie) does not shake the mute off.
    await guest_ws.close()
    guest_ws, welcome = await _join(guest, meeting_id, "&audio=1&video=1")
    ann = welcome["participant_id"]
    assert (await receive(guest_ws))["type"] == "force_mute"
    seen = await _barrier(host_ws)
    assert {"id": ann, "name": "Ann", "audio": False, "video": True, "host": False} in [
        msg.get("participant") for msg in seen if msg["type"] == "participant_joined"
    ], "the others see the newcomer muted from the start"

    await guest_ws.send_json({"type": "request_unmute", "kind": "audio"})
    asked = await receive_type(host_ws, "unmute_requested")
    assert asked == {"type": "unmute_requested", "participant_id": ann, "name": "Ann", "kind": "audio"}
    await _action(host_ws, "unmute", ann)
    assert await receive_type(guest_ws, "unmute_allowed") == {"type": "unmute_allowed", "kind": "audio"}
    await guest_ws.send_json({"type": "media_state", "audio": True, "video": True})
    media = await receive_type(host_ws, "participant_media")
    assert (media["participant_id"], media["audio"]) == (ann, True)


async def test_a_kicked_guest_is_closed_revoked_and_kept_out(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id)
    guest = await online.guest(meeting_id, "Bo")
    guest_ws, welcome = await _join(guest, meeting_id)
    other = await online.guest(meeting_id, "Cy")
    other_ws, _ = await _join(other, meeting_id)

    await _action(host_ws, "kick", welcome["participant_id"])
    message, code = await _closed_with(guest_ws, "kicked")
    assert message["message"] and code == m.CLOSE_KICKED
    assert await online.store.get_reconnect(welcome["reconnect_token"]) is None, "reconnect token revoked"
    left = await receive_type(host_ws, "participant_left")
    assert left["participant_id"] == welcome["participant_id"]

    for path in (f"/ws?meeting={meeting_id}", f"/ws?meeting={meeting_id}&reconnect={welcome['reconnect_token']}"):
        error, code = await _refused(guest, path)
        assert (error["code"], code) == ("kicked", m.CLOSE_KICKED), path
    for response in (await guest.get(f"/room/{meeting_id}"), await guest.get(f"/join/{meeting_id}"),
                     await guest.post(f"/join/{meeting_id}", data={"name": "Bo again"}, allow_redirects=False)):
        assert response.status == 403
        assert 'data-testid="kicked"' in await response.text()
    # Everyone else stays.
    assert not other_ws.closed and await _barrier(other_ws) is not None


async def test_a_locked_meeting_admits_nobody_new_and_keeps_everyone_inside(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id)
    inside = await online.guest(meeting_id, "In")
    inside_ws, _ = await _join(inside, meeting_id)
    waiting = await online.guest(meeting_id, "Waiting")  # has its cookie, not yet connected

    await _action(host_ws, "lock")
    assert await receive_type(inside_ws, "meeting_locked") == {"type": "meeting_locked", "locked": True}
    stored = await online.store.get_meeting(meeting_id)
    assert stored is not None and stored.locked
    error, code = await _refused(waiting, f"/ws?meeting={meeting_id}")
    assert (error["code"], code) == ("meeting_locked", m.CLOSE_LOCKED)
    late = await online.client()
    assert (await late.get(f"/join/{meeting_id}")).status == 403
    assert await _barrier(inside_ws) is not None and not inside_ws.closed

    await _action(host_ws, "unlock")
    assert (await receive_type(inside_ws, "meeting_locked"))["locked"] is False
    waiting_ws, _ = await _join(waiting, meeting_id)
    assert not waiting_ws.closed


async def test_ending_closes_everyone_and_the_link_says_it_ended(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, host_welcome = await _join(host, meeting_id)
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, guest_welcome = await _join(guest, meeting_id)

    await _action(host_ws, "end")
    for ws in (host_ws, guest_ws):
        message, code = await _closed_with(ws, "meeting_ended")
        assert message["message"] and code == m.CLOSE_MEETING_ENDED
    stored = await online.store.get_meeting(meeting_id)
    assert stored is not None and not stored.active and stored.participants == ()
    for welcome in (host_welcome, guest_welcome):
        assert await online.store.get_participant(welcome["participant_id"]) is None
        assert await online.store.get_reconnect(welcome["reconnect_token"]) is None
    page = await guest.get(f"/join/{meeting_id}")
    assert page.status == 410 and 'data-testid="meeting-ended"' in await page.text()
    error, code = await _refused(host, f"/ws?meeting={meeting_id}")
    assert (error["code"], code) == ("meeting_ended", m.CLOSE_MEETING_ENDED)
    listed = await (await host.get("/api/meetings")).json()
    assert meeting_id not in [meeting["id"] for meeting in listed["meetings"]]


async def test_only_the_host_gets_call_stats(online: Gateway) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, host_welcome = await _join(host, meeting_id)
    guest = await online.guest(meeting_id, "Ann")
    guest_ws, guest_welcome = await _join(guest, meeting_id, "&audio=1")

    async def next_stats() -> dict[str, Any]:
        while True:
            message = await host_ws.receive_json(timeout=WS_TIMEOUT)
            if message["type"] == "call_stats" and len(message["participants"]) == 2:
                return message

    stats = await next_stats()
    rows = {row["id"]: row for row in stats["participants"]}
    assert set(rows) == {host_welcome["participant_id"], guest_welcome["participant_id"]}
    ann = rows[guest_welcome["participant_id"]]
    assert (ann["name"], ann["is_host"], ann["audio"], ann["audio_blocked"]) == ("Ann", False, True, False)
    # No browser media here: nothing is measured, so no level or MOS yet (test_connection_quality.py here).
    assert ann["quality"] is None and ann["mos"] is None and "bitrate_bps" in ann["downlink"]
    assert stats["duration_s"] >= 0
    later = await next_stats()
    assert later["duration_s"] > stats["duration_s"], "the duration moves"
    assert all(msg["type"] != "call_stats" for msg in await _barrier(guest_ws))
