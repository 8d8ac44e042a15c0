"""Connection quality notices through the gateway: a real media server scores a real (aiortc) participant, the
gateway relays the event to the meeting's sockets and gives a later joiner the levels at once."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse

from signaling_gateway import messages as m
from signaling_gateway.media_client import MediaClient
from signaling_gateway.quality_notices import _notice
from tests.media.aiortc_peer import AiortcParticipant
from tests.processes import MediaServerProcess

from .conftest import Gateway, receive_type
from .test_host_controls import _barrier, _join, _meeting

pytestmark = pytest.mark.slow


async def _quality_of(ws: ClientWebSocketResponse, participant_id: str) -> dict[str, Any]:
    while True:
        message = await receive_type(ws, m.CONNECTION_QUALITY, timeout=20)
        if message["participant_id"] == participant_id:
            return message


def test_only_well_formed_events_are_relayed() -> None:
    good = {"room_id": "r", "participant_id": "p", "level": "poor", "mos": 2.2449}
    assert _notice(good) == ("r", {"type": "connection_quality", "participant_id": "p", "level": "poor", "mos": 2.24})
    for bad in ({**good, "level": "fair"}, {**good, "mos": True}, {**good, "mos": 7.0}, {**good, "mos": "4"},
                {**good, "participant_id": 3}, {"room_id": "r"}):
        assert _notice(bad) is None, bad


async def test_a_participants_level_reaches_the_meeting_and_a_later_joiner(
    online: Gateway, media_server: MediaServerProcess
) -> None:
    host, meeting_id = await _meeting(online)
    host_ws, _ = await _join(host, meeting_id)
    # A participant with real media, on the media server beside the gateway's own control link.
    control = MediaClient("127.0.0.1", media_server.control_port)
    await control.start()
    alice = AiortcParticipant(control, meeting_id, "alice")
    try:
        assert await control.wait_connected(10)
        await alice.join(publish=True)
        notice = await _quality_of(host_ws, "alice")
        assert notice["level"] in ("excellent", "good") and 3.5 <= notice["mos"] <= 4.5, notice

        guest = await online.guest(meeting_id, "Ann")
        guest_ws, _ = await _join(guest, meeting_id)
        cached = [msg for msg in await _barrier(guest_ws) if msg["type"] == m.CONNECTION_QUALITY]
        assert [msg["participant_id"] for msg in cached] == ["alice"], "the newcomer gets the levels at once"
        assert cached[0]["level"] in ("excellent", "good") and cached[0]["mos"] >= 3.5
    finally:
        await alice.close()
        await control.close()
