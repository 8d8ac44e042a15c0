"""The records the gateway keeps (meetings, participants, ICE candidates, reconnect grants) and their JSON form."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

# A browser gathering on many interfaces lists a few dozen at most; more would only bloat the key.
MAX_CANDIDATES: Final = 32


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"))


@dataclass(frozen=True)
class Meeting:
    """`participants` is maintained by the store (join order); `expires_at` is the end promised at creation.

    `active` turns False when the host ends the meeting (the record stays as a tombstone, so the link can say
    so); `locked` is the host's lock: nobody new is admitted while it is set.
    """

    id: str
    host: str
    created_at: datetime
    expires_at: datetime
    active: bool = True
    participants: tuple[str, ...] = ()
    locked: bool = False

    def with_participant(self, participant_id: str) -> Meeting:
        if participant_id in self.participants:
            return self
        return replace(self, participants=(*self.participants, participant_id))

    def without_participant(self, participant_id: str) -> Meeting:
        return replace(self, participants=tuple(p for p in self.participants if p != participant_id))

    def to_json(self) -> str:
        # Field names as in the product spec's `meeting:{roomID}` value.
        return _dumps(
            {
                "id": self.id,
                "host": self.host,
                "created": iso(self.created_at),
                "expiresAt": iso(self.expires_at),
                "participants": list(self.participants),
                "active": self.active,
                "locked": self.locked,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Meeting:
        data = json.loads(text)
        return cls(
            id=data["id"],
            host=data["host"],
            created_at=parse_iso(data["created"]),
            expires_at=parse_iso(data["expiresAt"]),
            active=bool(data.get("active", True)),
            participants=tuple(str(p) for p in data.get("participants", ())),
            locked=bool(data.get("locked", False)),
        )


@dataclass(frozen=True)
class Participant:
    id: str
    meeting_id: str
    name: str
    is_host: bool
    joined_at: datetime
    # Camera / microphone on, as the client last said (pre-join choice, then `media_state` messages).
    video: bool = False
    audio: bool = False
    # The gateway holding its socket (bus.py's gateway id): only that one may declare it gone while it runs.
    gateway: str = ""

    def with_media(self, *, audio: bool, video: bool) -> Participant:
        return replace(self, audio=audio, video=video)

    def to_json(self) -> str:
        # Field names as in the product spec's `participant:{userID}` value.
        return _dumps(
            {
                "id": self.id,
                "name": self.name,
                "roomID": self.meeting_id,
                "joinedAt": iso(self.joined_at),
                "isHost": self.is_host,
                "video": self.video,
                "audio": self.audio,
                "gateway": self.gateway,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Participant:
        data = json.loads(text)
        return cls(
            id=data["id"],
            meeting_id=data["roomID"],
            name=data["name"],
            is_host=bool(data["isHost"]),
            joined_at=parse_iso(data["joinedAt"]),
            video=bool(data.get("video", False)),
            audio=bool(data.get("audio", False)),
            gateway=str(data.get("gateway", "")),
        )


@dataclass(frozen=True)
class IceCandidates:
    """The ICE candidates of one participant's publish exchange: the media server's and the browser's."""

    meeting_id: str
    participant_id: str
    server: tuple[str, ...]
    client: tuple[str, ...]

    @classmethod
    def from_exchange(cls, meeting_id: str, participant_id: str, offer: str, answer: str) -> IceCandidates:
        """`offer` is the browser's SDP, `answer` the media server's."""
        return cls(meeting_id, participant_id, server=candidates_in_sdp(answer), client=candidates_in_sdp(offer))

    def to_json(self) -> str:
        return _dumps(
            {"roomID": self.meeting_id, "userID": self.participant_id, "server": self.server, "client": self.client}
        )

    @classmethod
    def from_json(cls, text: str) -> IceCandidates:
        data = json.loads(text)
        return cls(
            meeting_id=data["roomID"],
            participant_id=data["userID"],
            server=tuple(data["server"]),
            client=tuple(data["client"]),
        )


def candidates_in_sdp(sdp: str) -> tuple[str, ...]:
    """The values of the `a=candidate:` lines, each once (BUNDLE repeats them per m-section)."""
    found: dict[str, None] = {}
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            found.setdefault(line[len("a=candidate:") :].strip(), None)
            if len(found) >= MAX_CANDIDATES:
                break
    return tuple(found)


@dataclass(frozen=True)
class ReconnectGrant:
    """Lets a dropped participant come back as the same participant within a minute.

    `identity` names who may use it (the host, or one guest token's id), so a token that leaked to someone
    else in the same meeting is worth nothing without that person's cookie.
    """

    token: str
    participant_id: str
    meeting_id: str
    identity: str

    def to_json(self, ttl: float) -> str:
        """The value for a key that lives `ttl` more seconds (the spec's value carries its expiry)."""
        # Field names as in the product spec's `reconnect:{token}` value; the token itself is the key.
        return _dumps(
            {
                "userID": self.participant_id,
                "roomID": self.meeting_id,
                "identity": self.identity,
                "expiresAt": iso(utcnow() + timedelta(seconds=ttl)),
            }
        )

    @classmethod
    def from_json(cls, token: str, text: str) -> ReconnectGrant:
        data = json.loads(text)
        return cls(token=token, participant_id=data["userID"], meeting_id=data["roomID"], identity=data["identity"])


@dataclass(frozen=True)
class GuestControls:
    """What the host imposed on one guest (one guest token) in one meeting; outlives that guest's sockets.

    Keyed by the guest id inside the signed cookie, not by participant id: a reload or a reconnect gets a new
    participant id but the same cookie, and must not shake off a kick or a mute.
    """

    meeting_id: str
    guest_id: str
    removed: bool = False
    audio_blocked: bool = False
    video_blocked: bool = False

    def blocked(self, kind: str) -> bool:
        return self.audio_blocked if kind == "audio" else self.video_blocked

    def with_blocked(self, kind: str, blocked: bool) -> GuestControls:
        if kind == "audio":
            return replace(self, audio_blocked=blocked)
        return replace(self, video_blocked=blocked)

    def to_json(self) -> str:
        return _dumps(
            {
                "roomID": self.meeting_id,
                "guestID": self.guest_id,
                "removed": self.removed,
                "audioBlocked": self.audio_blocked,
                "videoBlocked": self.video_blocked,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> GuestControls:
        data = json.loads(text)
        return cls(
            meeting_id=data["roomID"],
            guest_id=data["guestID"],
            removed=bool(data.get("removed", False)),
            audio_blocked=bool(data.get("audioBlocked", False)),
            video_blocked=bool(data.get("videoBlocked", False)),
        )


def in_join_order(found: list[Participant | None], meeting_id: str) -> list[Participant]:
    """The participants listed in a meeting record, by join time."""
    # Ids whose keys expired (a gateway that died without cleaning up) are skipped, not errors.
    present = [p for p in found if p is not None and p.meeting_id == meeting_id]
    return sorted(present, key=lambda p: (p.joined_at, p.id))
