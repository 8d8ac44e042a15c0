"""The gateway <-> media server control protocol: message names, fields and msgpack framing.

Both sides import this module and nothing else of each other, so the protocol is defined in one place.

Framing: every message is a 4-byte big-endian length followed by a msgpack map.
  request  {"id": int, "method": str, "params": {...}}
  response {"id": int, "result": {...}}  or  {"id": int, "error": {"code": str, "message": str}}
  event    {"event": str, "params": {...}}     (media server -> gateway, unsolicited)

Methods (params -> result):
  create_room        {room_id, video_codecs?}                    -> {}   video_codecs: the room's preference of
                     "VP8" and "H264", best first (default both, VP8 first); an existing room keeps its own
  join               {room_id, participant_id, name}             -> {}   (an existing participant with that id is
                                                                          replaced: new transports, new tracks)
  resume             {room_id, participant_id}                   -> {publisher, subscriber} (transport states)
                     the participant's client is back on this gateway connection: nothing of it is rebuilt;
                     "not_found" when it is gone (the media server restarted or its window ran out)
  publisher_offer    {room_id, participant_id, sdp}              -> {sdp}       (answer to the browser's offer)
  subscriber_offer   {room_id, participant_id, ice_restart?}     -> {sdp, offer_id}  (server's offer; error "busy"
                     while an earlier one is unanswered, unless ice_restart: then it replaces it, with new ICE
                     credentials; an offer unanswered for 10 s, or answered badly, is dropped and
                     renegotiation_needed comes again)
  subscriber_answer  {room_id, participant_id, sdp, offer_id?}   -> {}   ("stale" when offer_id is not the
                                                                          outstanding offer's)
  leave              {room_id, participant_id}                   -> {}
  close_room         {room_id}                                   -> {}
  stats              {room_id?, summary?}                        -> {rooms: {...}, counters: {...}, loop_lag}
                     loop_lag: how late a 50 ms timer fired, as counts per bucket since start (mediaserver/loop_lag.py)
                     summary: true gives each participant's summary only (quality, uplink, downlink, muted),
                     without per-subscription detail: what the host's panel polls, cheap at 20 participants
  set_video_prefs    {room_id, participant_id, prefs: [{track_id, width, height, visible}]} -> {}
                     the subscriber's rendered tile sizes (device pixels); the server picks simulcast layers
  set_track_enabled  {room_id, participant_id, kind, enabled}     -> {tracks}   host control: stop/resume
                     forwarding the participant's audio or video at once (subscribers restart on a keyframe)
  start_recording    {room_id}                                   -> {directory}  each participant's audio and
                     video muxed to WebM (no transcoding) under the server's recordings directory
  stop_recording     {room_id}                                   -> {manifest}
  simulate_loss      {room_id, participant_id, downlink_loss}     -> {}   (only with --enable-fault-injection:
                     drop this share (0..1) of the packets sent to the participant's subscriber connection)

Events:
  renegotiation_needed {room_id, participant_id}   the participant's subscriber connection must get a new offer:
                                                    call subscriber_offer and relay it to the client
  track_published      {room_id, participant_id, track_id, kind, source}   source: camera | microphone | screen
  track_unpublished    {room_id, participant_id, track_id, kind, source}   the publisher's new offer dropped it
  participant_left     {room_id, participant_id, reason}   (also sent when a transport dies: no ICE restart within
                                                    the reconnect window after consent was lost, or no gateway
                                                    resumed it within that window after its gateway went away)

Lifetimes: a transport that loses consent (30 s) is "disconnected", not closed, for the reconnect window
(60 s): an ICE restart or the old path coming back resumes it with the same DTLS and SRTP. A room nobody
has been in for the departure timeout (20 s) is closed; the gateway creates it again on the next join.
  recording            {room_id, active}           recording started or stopped
  active_speaker       {room_id, participant_id}   the loudest participant (audio-level extension) changed
  layers_needed        {room_id, participant_id, track_id, rids}   dynacast: the simulcast layers (rids) some
                                                    subscriber needs; the publisher should pause the others
  track_undecodable    {room_id, participant_id, publisher_id, track_id, kind, codec, active}   the participant's
                                                    browser cannot decode that track (its answer left the codec
                                                    out): it is not forwarded, the client should show why; then
                                                    active false once the track is gone (unpublished, recoded)
  publisher_renegotiate {room_id, participant_id, reason}   the participant should make a new publisher offer:
                                                    its answer will pick a codec every subscriber decodes
  connection_quality   {room_id, participant_id, level, mos}   the participant's connection quality level changed
                                                    (excellent | good | poor | lost; mos 1.0-4.5, two decimals):
                                                    scored once a second from both directions
                                                    (mediaserver/rooms/quality.py), a drop at once, a rise after 4 s

Track ids: in every subscriber offer a forwarded track carries `a=msid:<publisher participant_id> <track_id>`,
so a browser maps an incoming track to its tile by the stream id. Track ids start with `audio-`, `video-`
(camera) or `screen-`: a publisher's first video m-line is its camera, any further one a screen share.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass
from typing import Any, Final

import msgpack

MAX_FRAME: Final = 4 * 1024 * 1024
_LEN = struct.Struct("!I")

# Method names
CREATE_ROOM: Final = "create_room"
JOIN: Final = "join"
RESUME: Final = "resume"
PUBLISHER_OFFER: Final = "publisher_offer"
SUBSCRIBER_OFFER: Final = "subscriber_offer"
SUBSCRIBER_ANSWER: Final = "subscriber_answer"
LEAVE: Final = "leave"
CLOSE_ROOM: Final = "close_room"
STATS: Final = "stats"
SET_VIDEO_PREFS: Final = "set_video_prefs"
SIMULATE_LOSS: Final = "simulate_loss"
SET_TRACK_ENABLED: Final = "set_track_enabled"
START_RECORDING: Final = "start_recording"
STOP_RECORDING: Final = "stop_recording"
METHODS: Final = frozenset(
    {CREATE_ROOM, JOIN, RESUME, PUBLISHER_OFFER, SUBSCRIBER_OFFER, SUBSCRIBER_ANSWER, LEAVE, CLOSE_ROOM, STATS,
     SET_VIDEO_PREFS, SIMULATE_LOSS, SET_TRACK_ENABLED, START_RECORDING, STOP_RECORDING}
)

# The video codec names create_room's video_codecs may list (SDP encoding names).
VIDEO_CODECS: Final = ("VP8", "H264")

# Event names
RENEGOTIATION_NEEDED: Final = "renegotiation_needed"
TRACK_PUBLISHED: Final = "track_published"
TRACK_UNPUBLISHED: Final = "track_unpublished"
PARTICIPANT_LEFT: Final = "participant_left"
# A participant_left `reason` starting with this: the media server cut the peer off for abuse (a flood past
# its limits); the gateway ends the session with that reason instead of bringing the media back.
REASON_OVER_LIMIT: Final = "over_limit"
LAYERS_NEEDED: Final = "layers_needed"
ACTIVE_SPEAKER: Final = "active_speaker"
RECORDING: Final = "recording"
TRACK_UNDECODABLE: Final = "track_undecodable"
PUBLISHER_RENEGOTIATE: Final = "publisher_renegotiate"
CONNECTION_QUALITY: Final = "connection_quality"
# Its levels, worst first (mediaserver/rooms/quality.py scores them; the gateway relays nothing else).
QUALITY_LEVELS: Final = ("lost", "poor", "good", "excellent")

# Error codes
ERR_BAD_REQUEST: Final = "bad_request"
ERR_NOT_FOUND: Final = "not_found"
ERR_BAD_SDP: Final = "bad_sdp"
ERR_BUSY: Final = "busy"
ERR_STALE: Final = "stale"
ERR_INTERNAL: Final = "internal"
# create_room on a media server that is draining (SIGTERM): the gateway places the room on another one.
ERR_DRAINING: Final = "draining"


class ProtocolError(Exception):
    """A frame that is not a well-formed control message."""


class ControlError(Exception):
    """An error response from the media server, raised on the gateway side."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def encode(message: dict[str, Any]) -> bytes:
    body = msgpack.packb(message, use_bin_type=True)
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(body)} bytes exceeds {MAX_FRAME}")
    return _LEN.pack(len(body)) + body


def request(msg_id: int, method: str, params: dict[str, Any]) -> bytes:
    return encode({"id": msg_id, "method": method, "params": params})


def response(msg_id: int, result: dict[str, Any]) -> bytes:
    return encode({"id": msg_id, "result": result})


def error(msg_id: int | None, code: str, message: str) -> bytes:
    return encode({"id": msg_id, "error": {"code": code, "message": message}})


def event(name: str, params: dict[str, Any]) -> bytes:
    return encode({"event": name, "params": params})


async def read_message(reader: Any) -> dict[str, Any]:
    """Read one frame from an asyncio StreamReader; raises ProtocolError on a bad frame, EOF as IncompleteRead."""
    header = await reader.readexactly(_LEN.size)
    (length,) = _LEN.unpack(header)
    if length > MAX_FRAME:
        raise ProtocolError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    body = await reader.readexactly(length)
    try:
        message = msgpack.unpackb(body, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types for garbage
        raise ProtocolError(f"undecodable frame: {exc}") from exc
    if not isinstance(message, dict):
        raise ProtocolError("frame is not a map")
    return message


# --- node registry (Redis): how media servers announce themselves to every gateway ---------------------------
#
# Each media server started with a Redis URL writes NODE_KEY_PREFIX + node_id every HEARTBEAT_S with a TTL of
# NODE_TTL_S: a node that stops heart-beating is gone within NODE_TTL_S. A gateway places a room on one node with
# SET ROOM_KEY_PREFIX + room_id node_id NX (the lock: two gateways never place one room twice).
NODE_KEY_PREFIX: Final = "mediaserver:node:"
ROOM_KEY_PREFIX: Final = "mediaserver:room:"
HEARTBEAT_S: Final = 2.0
NODE_TTL_S: Final = 5
ROOM_TTL_S: Final = 2 * 24 * 3600  # refreshed by every placement lookup; a meeting lives at most a day


@dataclass(frozen=True)
class NodeRecord:
    """One heartbeat: where the node is and how loaded it is."""

    node_id: str
    control_host: str
    control_port: int
    media: str  # the announced address(es):port browsers reach
    rooms: int
    participants: int
    cpu_percent: float
    sent_pps: float  # datagrams sent per second: forwarded RTP, retransmissions, RTCP
    draining: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> NodeRecord | None:
        """None for anything that is not a complete record (an older or foreign writer): it is skipped."""
        try:
            data = json.loads(raw)
            return cls(node_id=str(data["node_id"]), control_host=str(data["control_host"]),
                       control_port=int(data["control_port"]), media=str(data["media"]), rooms=int(data["rooms"]),
                       participants=int(data["participants"]), cpu_percent=float(data["cpu_percent"]),
                       sent_pps=float(data["sent_pps"]), draining=bool(data["draining"]))
        except (ValueError, KeyError, TypeError, OverflowError, RecursionError):  # int(Infinity), deep nesting
            return None
