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

# Server -> client
WELCOME: Final = "welcome"
PUBLISH_ANSWER: Final = "publish_answer"
SUBSCRIBE_OFFER: Final = "subscribe_offer"
PARTICIPANT_JOINED: Final = "participant_joined"
PARTICIPANT_LEFT: Final = "participant_left"
ERROR: Final = "error"

CLIENT_TYPES: Final = frozenset({PUBLISH_OFFER, SUBSCRIBE_ANSWER, PONG, PING})
SERVER_TYPES: Final = frozenset(
    {WELCOME, PUBLISH_ANSWER, SUBSCRIBE_OFFER, PARTICIPANT_JOINED, PARTICIPANT_LEFT, ERROR, PING, PONG}
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
ERR_TRANSPORT_CLOSED: Final = "transport_closed"

# Text frames above this are refused with an error; the socket's hard limit (which closes) is set higher.
MAX_MESSAGE_BYTES: Final = 256 * 1024
MAX_SDP_CHARS: Final = 128 * 1024

# WebSocket close codes (4000-4999 are ours to define).
CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_FORBIDDEN: Final = 4403
CLOSE_NOT_FOUND: Final = 4404
CLOSE_TRANSPORT_CLOSED: Final = 4410
CLOSE_SLOW_CONSUMER: Final = 4429
CLOSE_MEDIA_UNAVAILABLE: Final = 4503


class BadMessage(Exception):
    """A client message the gateway refuses; reported to the client as an `error` and otherwise ignored."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ClientMessage:
    type: str
    sdp: str | None = None


def parse_client_message(text: str) -> ClientMessage:
    if len(text) > MAX_MESSAGE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES:
        raise BadMessage(ERR_TOO_LARGE, f"message exceeds {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(text)
    except ValueError:
        raise BadMessage(ERR_BAD_JSON, "message is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage(ERR_BAD_MESSAGE, "message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise BadMessage(ERR_BAD_MESSAGE, "message has no 'type'")
    if kind not in CLIENT_TYPES:
        raise BadMessage(ERR_BAD_MESSAGE, f"unknown message type {kind[:40]!r}")
    if kind not in _NEEDS_SDP:
        return ClientMessage(kind)
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise BadMessage(ERR_BAD_MESSAGE, f"{kind} needs 'sdp' as a non-empty string")
    if len(sdp) > MAX_SDP_CHARS:
        raise BadMessage(ERR_TOO_LARGE, f"sdp exceeds {MAX_SDP_CHARS} characters")
    return ClientMessage(kind, sdp)


def participant_view(participant_id: str, name: str) -> dict[str, str]:
    return {"id": participant_id, "name": name}


def welcome(
    participant_id: str,
    name: str,
    is_host: bool,
    others: list[dict[str, str]],
    ice_servers: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "type": WELCOME,
        "participant_id": participant_id,
        "name": name,
        "is_host": is_host,
        "participants": others,
        "ice_servers": ice_servers,
    }


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": ERROR, "code": code, "message": message}


def participant_joined(participant_id: str, name: str) -> dict[str, Any]:
    return {"type": PARTICIPANT_JOINED, "participant": participant_view(participant_id, name)}


def participant_left(participant_id: str) -> dict[str, Any]:
    return {"type": PARTICIPANT_LEFT, "participant_id": participant_id}


def sdp_message(kind: str, sdp: str) -> dict[str, Any]:
    return {"type": kind, "sdp": sdp}
