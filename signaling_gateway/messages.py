"""The browser <-> gateway WebSocket protocol: message types, error codes, parsing and builders."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

# Client -> server
PUBLISH_OFFER: Final = "publish_offer"
SUBSCRIBE_ANSWER: Final = "subscribe_answer"
PONG: Final = "pong"
PING: Final = "ping"
MEDIA_STATE: Final = "media_state"
VIDEO_PREFS: Final = "video_prefs"
# Host controls (host_controls.py): host_action from the host only; request_unmute from a muted guest.
HOST_ACTION: Final = "host_action"
REQUEST_UNMUTE: Final = "request_unmute"
# The client's connection to the media server failed while its socket works: new ICE credentials please.
RESTART_ICE: Final = "restart_ice"
# What the client's media connections use (from getStats): `relayed` when either goes through TURN.
CONNECTION_STATS: Final = "connection_stats"
# The client's own view of its join, for the user-experience metrics (experience.py): once its media reached
# the media server, and once its first remote video frame decoded; browser and OS as families, never raw.
CLIENT_REPORT: Final = "client_report"

# Server -> client
WELCOME: Final = "welcome"
PUBLISH_ANSWER: Final = "publish_answer"
SUBSCRIBE_OFFER: Final = "subscribe_offer"
PARTICIPANT_JOINED: Final = "participant_joined"
PARTICIPANT_LEFT: Final = "participant_left"
PARTICIPANT_MEDIA: Final = "participant_media"
LAYERS_NEEDED: Final = "layers_needed"
# This browser cannot decode another participant's track (its codec): show a placeholder and the reason.
TRACK_UNAVAILABLE: Final = "track_unavailable"
# Make a new publisher offer: the media server will answer it with a codec every subscriber can decode.
RENEGOTIATE_PUBLISHER: Final = "renegotiate_publisher"
# The media server lost this participant (it restarted, or the transport's window ran out): build new peer
# connections and publish again; same participant id, nobody sees a leave or a join.
MEDIA_RESET: Final = "media_reset"
# Another participant's socket dropped and the gateway waits for it to come back (or it came back).
PARTICIPANT_CONNECTION: Final = "participant_connection"
# A participant's connection quality level changed (the media server's score; builder in quality_notices.py).
CONNECTION_QUALITY: Final = "connection_quality"
ERROR: Final = "error"
# Host controls (builders in host_messages.py)
FORCE_MUTE: Final = "force_mute"
UNMUTE_ALLOWED: Final = "unmute_allowed"
UNMUTE_REQUESTED: Final = "unmute_requested"
MODERATION: Final = "moderation"
KICKED: Final = "kicked"
MEETING_ENDED: Final = "meeting_ended"
MEETING_LOCKED: Final = "meeting_locked"
RECORDING: Final = "recording"
ACTIVE_SPEAKER: Final = "active_speaker"
SCREEN_SHARE: Final = "screen_share"
CALL_STATS: Final = "call_stats"
HOST_TYPES: Final = frozenset(
    {FORCE_MUTE, UNMUTE_ALLOWED, UNMUTE_REQUESTED, MODERATION, KICKED, MEETING_ENDED, MEETING_LOCKED, RECORDING,
     ACTIVE_SPEAKER, SCREEN_SHARE, CALL_STATS}
)  # fmt: skip

CLIENT_TYPES: Final = frozenset(
    {PUBLISH_OFFER, SUBSCRIBE_ANSWER, PONG, PING, VIDEO_PREFS, MEDIA_STATE, HOST_ACTION, REQUEST_UNMUTE, RESTART_ICE,
     CONNECTION_STATS, CLIENT_REPORT}
)
# What host_action may ask for; the ones on a participant need `participant_id`.
PARTICIPANT_ACTIONS: Final = frozenset({"mute", "unmute", "video_off", "video_on", "kick"})
MEETING_ACTIONS: Final = frozenset({"end", "lock", "unlock", "record_start", "record_stop"})
MAX_PARTICIPANT_ID_CHARS: Final = 64
SERVER_TYPES: Final = frozenset(
    {
        WELCOME,
        PUBLISH_ANSWER,
        SUBSCRIBE_OFFER,
        PARTICIPANT_JOINED,
        PARTICIPANT_LEFT,
        PARTICIPANT_MEDIA,
        ERROR,
        PING,
        PONG,
        LAYERS_NEEDED,
        TRACK_UNAVAILABLE,
        RENEGOTIATE_PUBLISHER,
        MEDIA_RESET,
        PARTICIPANT_CONNECTION,
        CONNECTION_QUALITY,
    }
    | HOST_TYPES
)
KNOWN_TYPES: Final = CLIENT_TYPES | SERVER_TYPES
_NEEDS_SDP: Final = frozenset({PUBLISH_OFFER, SUBSCRIBE_ANSWER})

# Error codes of our own; media-server codes (bad_sdp, busy, not_found, ...) pass through unchanged.
ERR_BAD_JSON: Final = "bad_json"
ERR_BAD_MESSAGE: Final = "bad_message"
ERR_TOO_LARGE: Final = "too_large"
ERR_UNAUTHORIZED: Final = "unauthorized"
ERR_FORBIDDEN: Final = "forbidden"
ERR_MEETING_NOT_FOUND: Final = "meeting_not_found"
ERR_MEDIA_UNAVAILABLE: Final = "media_unavailable"
ERR_KICKED: Final = "kicked"
ERR_MEDIA_LIMIT: Final = "media_limit"  # the media server cut this participant off for flooding it
ERR_MEETING_ENDED: Final = "meeting_ended"
ERR_MEETING_LOCKED: Final = "meeting_locked"
# Abuse limits (ws_limits.py): the meeting holds its maximum, too many sockets from one guest token or address,
# messages of one type faster than its rate.
ERR_MEETING_FULL: Final = "meeting_full"
ERR_TOO_MANY_CONNECTIONS: Final = "too_many_connections"
ERR_RATE_LIMITED: Final = "rate_limited"

# Text frames above this are refused with an error; the socket's hard limit (which closes) is set higher.
MAX_MESSAGE_BYTES: Final = 256 * 1024
MAX_SDP_CHARS: Final = 128 * 1024
# video_prefs: one entry per remote video (a meeting has at most 20 people); sizes in device pixels.
MAX_VIDEO_PREFS: Final = 64
MAX_TRACK_ID_CHARS: Final = 64
MAX_TILE_PIXELS: Final = 16384
# client_report: the label values the metrics accept (web_client/js/client_report.js maps user agents onto them).
BROWSER_FAMILIES: Final = ("chrome", "firefox", "safari", "edge", "other")
OS_FAMILIES: Final = ("windows", "macos", "linux", "android", "ios", "other")
# A first frame later than this is a broken measurement (a tab asleep in the background), not a slow join.
MAX_FIRST_FRAME_MS: Final = 600_000

# WebSocket close codes (4000-4999 are ours to define).
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
CLOSE_KICKED: Final = 4405
CLOSE_MEETING_ENDED: Final = 4411
CLOSE_LOCKED: Final = 4423
CLOSE_SLOW_CONSUMER: Final = 4429
CLOSE_MEETING_FULL: Final = 4413
CLOSE_TOO_MANY_CONNECTIONS: Final = 4430
CLOSE_RATE_LIMITED: Final = 4431
CLOSE_MEDIA_UNAVAILABLE: Final = 4503
CLOSE_MEDIA_LIMIT: Final = 4432


class BadMessage(Exception):
    """A client message the gateway refuses; reported to the client as an `error` and otherwise ignored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class VideoPref:
    """One remote video as the subscriber draws it: the media server picks its simulcast layer from this."""

    track_id: str
    width: int
    height: int
    visible: bool

    def as_params(self) -> dict[str, Any]:
        return {"track_id": self.track_id, "width": self.width, "height": self.height, "visible": self.visible}


@dataclass(frozen=True)
class ClientReport:
    """The client's media reached the media server; `first_frame_ms` once its first remote frame decoded."""

    browser: str
    os: str
    first_frame_ms: float | None = None


@dataclass(frozen=True)
class ClientMessage:
    type: str
    sdp: str | None = None
    prefs: tuple[VideoPref, ...] | None = None
    # media_state only: whether the sender's microphone / camera is on.
    audio: bool | None = None
    video: bool | None = None
    # host_action: the action and, for participant actions, its target; request_unmute: `kind`.
    action: str | None = None
    participant_id: str | None = None
    kind: str | None = None
    # subscribe_answer: the subscribe_offer's offer_id it answers (None from older clients).
    offer_id: int | None = None
    # connection_stats: whether the client's media goes through a TURN relay.
    relayed: bool | None = None
    # client_report
    report: ClientReport | None = None


def parse_client_message(text: str) -> ClientMessage:
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise BadMessage(ERR_TOO_LARGE, f"message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # 256 KiB of "[" nests deeper than json's C scanner recurses
        raise BadMessage(ERR_BAD_JSON, "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage(ERR_BAD_MESSAGE, "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadMessage(ERR_BAD_MESSAGE, "message has no 'type'")
    if kind not in CLIENT_TYPES:
        raise BadMessage(ERR_BAD_MESSAGE, f"unknown message type {kind[:40]!r}")
    if kind == VIDEO_PREFS:
        return ClientMessage(kind, prefs=parse_video_prefs(data.get("prefs")))
    if kind == MEDIA_STATE:
        return _parse_media_state(data)
    if kind == HOST_ACTION:
        return _parse_host_action(data)
    if kind == CONNECTION_STATS:
        relayed = data.get("relayed")
        if not isinstance(relayed, bool):
            raise BadMessage(ERR_BAD_MESSAGE, "connection_stats needs 'relayed' as true or false")
        return ClientMessage(kind, relayed=relayed)
    if kind == CLIENT_REPORT:
        return ClientMessage(kind, report=parse_client_report(data))
    if kind == REQUEST_UNMUTE:
        media_kind = data.get("kind")
        if media_kind not in ("audio", "video"):
            raise BadMessage(ERR_BAD_MESSAGE, "request_unmute needs 'kind' as \"audio\" or \"video\"")
        return ClientMessage(kind, kind=media_kind)
    if kind not in _NEEDS_SDP:
        return ClientMessage(kind)
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadMessage(ERR_BAD_MESSAGE, f"{kind} needs 'sdp' as a non-empty string")
    if len(sdp) > MAX_SDP_CHARS:
        raise BadMessage(ERR_TOO_LARGE, f"sdp exceeds {MAX_SDP_CHARS} characters")
    offer_id = data.get("offer_id")
    if kind == SUBSCRIBE_ANSWER and offer_id is not None:
        if not isinstance(offer_id, int) or isinstance(offer_id, bool) or not 0 < offer_id < 2**53:
            raise BadMessage(ERR_BAD_MESSAGE, "subscribe_answer 'offer_id' must be a positive integer")
        return ClientMessage(kind, sdp, offer_id=offer_id)
    return ClientMessage(kind, sdp)


def parse_video_prefs(raw: Any) -> tuple[VideoPref, ...]:
    """`[{track_id, width, height, visible}]`, bounded, with exact types: the media server gets only clean values."""
    if not isinstance(raw, list):
        raise BadMessage(ERR_BAD_MESSAGE, "video_prefs needs 'prefs' as a list")
    if len(raw) > MAX_VIDEO_PREFS:
        raise BadMessage(ERR_BAD_MESSAGE, f"video_prefs lists at most {MAX_VIDEO_PREFS} videos")
    prefs = []
    for index, item in enumerate(raw):
        where = f"prefs[{index}]"
        if not isinstance(item, dict):
            raise BadMessage(ERR_BAD_MESSAGE, f"{where} must be an object")
        track_id = item.get("track_id")
        if not isinstance(track_id, str) or not 0 < len(track_id) <= MAX_TRACK_ID_CHARS:
            message = f"{where}.track_id must be a string of 1 to {MAX_TRACK_ID_CHARS} characters"
            raise BadMessage(ERR_BAD_MESSAGE, message)
        size = []
        for field in ("width", "height"):
            value = item.get(field)
            # bool is an int in Python and 1.5 is a number in JSON: neither is a pixel count.
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_TILE_PIXELS:
                raise BadMessage(ERR_BAD_MESSAGE, f"{where}.{field} must be an integer from 0 to {MAX_TILE_PIXELS}")
            size.append(value)
        visible = item.get("visible")
        if not isinstance(visible, bool):
            raise BadMessage(ERR_BAD_MESSAGE, f"{where}.visible must be true or false")
        prefs.append(VideoPref(track_id, size[0], size[1], visible))
    return tuple(prefs)


def parse_client_report(data: dict[str, Any]) -> ClientReport:
    """`{browser, os[, first_frame_ms]}`: families from fixed lists (they become metric labels), a sane duration."""
    browser, os_family = data.get("browser"), data.get("os")
    if browser not in BROWSER_FAMILIES:
        raise BadMessage(ERR_BAD_MESSAGE, f"client_report 'browser' must be one of: {', '.join(BROWSER_FAMILIES)}")
    if os_family not in OS_FAMILIES:
        raise BadMessage(ERR_BAD_MESSAGE, f"client_report 'os' must be one of: {', '.join(OS_FAMILIES)}")
    first_frame = data.get("first_frame_ms")
    if first_frame is None:
        return ClientReport(browser, os_family)
    # bool is an int in Python; json.loads takes NaN and Infinity, which the range check refuses.
    if (not isinstance(first_frame, int | float) or isinstance(first_frame, bool)
            or not 0 <= first_frame <= MAX_FIRST_FRAME_MS):
        raise BadMessage(ERR_BAD_MESSAGE,
                         f"client_report 'first_frame_ms' must be a number from 0 to {MAX_FIRST_FRAME_MS}")
    return ClientReport(browser, os_family, float(first_frame))


def _parse_media_state(data: dict[str, Any]) -> ClientMessage:
    audio, video = data.get("audio"), data.get("video")
    # Booleans only: 0/1 or "true" is a client bug worth reporting, not something to guess at.
    if not isinstance(audio, bool) or not isinstance(video, bool):
        raise BadMessage(ERR_BAD_MESSAGE, "media_state needs 'audio' and 'video' as true or false")
    return ClientMessage(MEDIA_STATE, audio=audio, video=video)


def _parse_host_action(data: dict[str, Any]) -> ClientMessage:
    action = data.get("action")
    if not isinstance(action, str) or action not in PARTICIPANT_ACTIONS | MEETING_ACTIONS:
        names = ", ".join(sorted(PARTICIPANT_ACTIONS | MEETING_ACTIONS))
        raise BadMessage(ERR_BAD_MESSAGE, f"host_action needs 'action', one of: {names}")
    if action not in PARTICIPANT_ACTIONS:
        return ClientMessage(HOST_ACTION, action=action)
    target = data.get("participant_id")
    if not isinstance(target, str) or not 0 < len(target) <= MAX_PARTICIPANT_ID_CHARS:
        raise BadMessage(ERR_BAD_MESSAGE, f"host_action {action} needs 'participant_id' as a string")
    return ClientMessage(HOST_ACTION, action=action, participant_id=target)


def participant_view(participant_id: str, name: str, audio: bool, video: bool, *, is_host: bool = False
                     ) -> dict[str, Any]:
    # `host`: the others show a Host badge, and a guest alone knows whether the host is in yet.
    return {"id": participant_id, "name": name, "audio": audio, "video": video, "host": is_host}


def welcome(
    participant_id: str,
    name: str,
    is_host: bool,
    others: list[dict[str, Any]],
    ice_servers: list[dict[str, Any]],
    *,
    reconnect_token: str = "",
    resumed: bool = False,
    media_reset: bool = False,
    reconnect_window_s: float = 60.0,
) -> dict[str, Any]:
    return {
        "type": WELCOME,
        "participant_id": participant_id,
        "name": name,
        "is_host": is_host,
        "participants": others,
        "ice_servers": ice_servers,
        "reconnect_token": reconnect_token,
        # Same participant as before the drop; media_reset: its media must be set up anew (new connections).
        "resumed": resumed,
        "media_reset": media_reset,
        "reconnect_window_s": reconnect_window_s,
    }


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": ERROR, "code": code, "message": message}


def participant_joined(participant_id: str, name: str, audio: bool, video: bool, *, is_host: bool = False
                       ) -> dict[str, Any]:
    return {"type": PARTICIPANT_JOINED,
            "participant": participant_view(participant_id, name, audio, video, is_host=is_host)}


def participant_media(participant_id: str, audio: bool, video: bool) -> dict[str, Any]:
    """A participant's microphone or camera went on or off."""
    return {"type": PARTICIPANT_MEDIA, "participant_id": participant_id, "audio": audio, "video": video}


def participant_left(participant_id: str) -> dict[str, Any]:
    return {"type": PARTICIPANT_LEFT, "participant_id": participant_id}


def sdp_message(kind: str, sdp: str) -> dict[str, Any]:
    return {"type": kind, "sdp": sdp}


def subscribe_offer(sdp: str, offer_id: int | None) -> dict[str, Any]:
    """The media server's offer; the answer names `offer_id` so a late answer to a replaced offer is ignored."""
    return {"type": SUBSCRIBE_OFFER, "sdp": sdp, "offer_id": offer_id}


def media_reset() -> dict[str, Any]:
    return {"type": MEDIA_RESET}


def participant_connection(participant_id: str, connected: bool) -> dict[str, Any]:
    return {"type": PARTICIPANT_CONNECTION, "participant_id": participant_id, "connected": connected}


def track_unavailable(participant_id: str, track_id: str, kind: str, codec: str, active: bool = True) -> dict[str, Any]:
    """`participant_id`'s track is sent in a codec this browser does not decode, so it never arrives; then
    `active` False once that track is gone (its sender switched codec, or stopped it)."""
    return {"type": TRACK_UNAVAILABLE, "participant_id": participant_id, "track_id": track_id, "kind": kind,
            "reason": "codec", "codec": codec, "active": active}


def renegotiate_publisher() -> dict[str, Any]:
    return {"type": RENEGOTIATE_PUBLISHER}


def layers_needed(track_id: str, rids: list[str]) -> dict[str, Any]:
    """Dynacast for a publisher: send only these simulcast layers (rids) of that track."""
    return {"type": LAYERS_NEEDED, "track_id": track_id, "rids": rids}
