"""Simulcast signaling: `video_prefs` (validated, relayed to the media server) and dynacast `layers_needed`."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse
from aiortc import RTCPeerConnection, VideoStreamTrack

from signaling_gateway import messages as m

from .conftest import Gateway, eventually, receive, receive_type

GOOD = {"track_id": "video-0123456789ab", "width": 640, "height": 360, "visible": True}


def _prefs(**changes: Any) -> str:
    return json.dumps({"type": "video_prefs", "prefs": [{**GOOD, **changes}]})


def test_valid_prefs_parse_into_exact_values() -> None:
    message = m.parse_client_message(json.dumps({"type": "video_prefs", "prefs": [GOOD, {**GOOD, "visible": False}]}))
    assert message.type == m.VIDEO_PREFS
    assert message.prefs == (m.VideoPref("video-0123456789ab", 640, 360, True),
                             m.VideoPref("video-0123456789ab", 640, 360, False))
    assert message.prefs[0].as_params() == GOOD
    assert m.parse_client_message('{"type": "video_prefs", "prefs": []}').prefs == ()


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ('{"type": "video_prefs"}', "'prefs' as a list"),
        ('{"type": "video_prefs", "prefs": {"a": 1}}', "'prefs' as a list"),
        (json.dumps({"type": "video_prefs", "prefs": [GOOD] * 65}), "at most 64"),
        ('{"type": "video_prefs", "prefs": [7]}', "prefs[0] must be an object"),
        (_prefs(track_id=None), "prefs[0].track_id"),
        (_prefs(track_id=""), "prefs[0].track_id"),
        (_prefs(track_id="x" * 65), "prefs[0].track_id"),
        (_prefs(width=12.5), "prefs[0].width must be an integer"),
        (_prefs(width="640"), "prefs[0].width must be an integer"),
        (_prefs(width=True), "prefs[0].width must be an integer"),
        (_prefs(width=-1), "prefs[0].width must be an integer"),
        (_prefs(height=16385), "prefs[0].height must be an integer from 0 to 16384"),
        (_prefs(visible=1), "prefs[0].visible must be true or false"),
        (json.dumps({"type": "video_prefs", "prefs": [GOOD, {**GOOD, "height": None}]}), "prefs[1].height"),
    ],
)
def test_bad_prefs_are_refused_with_a_clear_message(text: str, detail: str) -> None:
    with pytest.raises(m.BadMessage) as caught:
        m.parse_client_message(text)
    assert caught.value.code == m.ERR_BAD_MESSAGE
    assert detail in caught.value.message


def test_layers_needed_message_shape() -> None:
    expected = {"type": "layers_needed", "track_id": "video-1", "rids": ["q", "h"]}
    assert m.layers_needed("video-1", ["q", "h"]) == expected


async def _join(gateway: Gateway, meeting_id: str | None = None) -> tuple[ClientWebSocketResponse, str, str]:
    if meeting_id is None:
        client = await gateway.host()
        response = await client.post("/api/meetings")
        assert response.status == 201, await response.text()
        meeting_id = (await response.json())["id"]
    else:
        client = await gateway.guest(meeting_id, "Bo")
    ws = await client.ws_connect(f"/ws?meeting={meeting_id}")
    welcome = await receive_type(ws, "welcome")
    return ws, meeting_id, welcome["participant_id"]


async def _until_pong(ws: ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Errors and dynacast messages up to the answer to a ping: a socket's messages are handled in order, so
    everything sent before the ping has been dealt with by then. Other traffic (joins, offers) is skipped."""
    await ws.send_json({"type": "ping"})
    seen = []
    while (message := await receive(ws))["type"] != "pong":
        if message["type"] in ("error", "layers_needed"):
            seen.append(message)
    return seen


async def test_bad_prefs_get_an_error_and_the_socket_stays_usable(online: Gateway) -> None:
    ws, _, _ = await _join(online)
    await ws.send_str(_prefs(width="wide"))
    error = await receive_type(ws, "error")
    assert error["code"] == "bad_message"
    assert "prefs[0].width must be an integer" in error["message"]
    assert await _until_pong(ws) == []
    await ws.close()


async def test_prefs_are_relayed_to_the_media_server(online: Gateway) -> None:
    host_ws, meeting_id, host_id = await _join(online)
    guest_ws, _, guest_id = await _join(online, meeting_id)
    # The host publishes video (an aiortc offer: the gateway relays it as it does a browser's).
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await host_ws.send_json({"type": "publish_offer", "sdp": pc.localDescription.sdp})
        await receive_type(host_ws, "publish_answer")
    finally:
        await pc.close()
    offer = await receive_type(guest_ws, "subscribe_offer")
    found = re.search(rf"a=msid:{host_id} (\S+)", offer["sdp"])
    assert found, offer["sdp"]
    track_id = found.group(1)

    async def guest_subscription() -> dict[str, Any]:
        stats = await online.media.stats(meeting_id)
        [sub] = stats["rooms"][meeting_id][guest_id]["subscriptions"]
        assert sub["publication"] == track_id
        return sub

    assert (await guest_subscription())["paused"] is False
    # A hidden tile: the media server pauses that video for this subscriber.
    await guest_ws.send_str(_prefs(track_id=track_id, visible=False))
    assert await _until_pong(guest_ws) == []
    assert (await guest_subscription())["paused"] is True
    await guest_ws.send_str(_prefs(track_id=track_id, width=1280, height=720, visible=True))
    assert await _until_pong(guest_ws) == []

    async def unpaused() -> bool:
        return (await guest_subscription())["paused"] is False

    # Two prefs within RENEGOTIATION_WINDOW: the second is applied at the window's end (ws_limits.py).
    await eventually(unpaused)
    await host_ws.close()
    await guest_ws.close()


async def test_layers_needed_goes_to_that_publisher_only(online: Gateway) -> None:
    host_ws, meeting_id, host_id = await _join(online)
    guest_ws, _, _ = await _join(online, meeting_id)
    # Stand in for the media server's dynacast event (a real one needs a simulcast browser: tests/browser).
    params = {"room_id": meeting_id, "participant_id": host_id, "track_id": "video-abc", "rids": ["q", "h"]}
    online.media._dispatch_event({"event": "layers_needed", "params": params})
    bad = {**params, "rids": "q"}  # malformed: dropped, not relayed
    online.media._dispatch_event({"event": "layers_needed", "params": bad})
    assert await _until_pong(host_ws) == [{"type": "layers_needed", "track_id": "video-abc", "rids": ["q", "h"]}]
    assert await _until_pong(guest_ws) == []
    await host_ws.close()
    await guest_ws.close()
