"""The records the gateway keeps about meetings, participants and reconnect grants, and their JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass(frozen=True)
class Meeting:
    id: str
    host: str
    created_at: datetime
    expires_at: datetime
    active: bool = True

    def to_json(self) -> str:
        return _dump(self, ("created_at", "expires_at"))

    @classmethod
    def from_json(cls, text: str) -> Meeting:
        data = json.loads(text)
        return cls(
            id=data["id"],
            host=data["host"],
            created_at=parse_iso(data["created_at"]),
            expires_at=parse_iso(data["expires_at"]),
            active=bool(data.get("active", True)),
        )


@dataclass(frozen=True)
class Participant:
    id: str
    meeting_id: str
    name: str
    is_host: bool
    joined_at: datetime

    def to_json(self) -> str:
        return _dump(self, ("joined_at",))

    @classmethod
    def from_json(cls, text: str) -> Participant:
        data = json.loads(text)
        return cls(
            id=data["id"],
            meeting_id=data["meeting_id"],
            name=data["name"],
            is_host=bool(data["is_host"]),
            joined_at=parse_iso(data["joined_at"]),
        )


@dataclass(frozen=True)
class ReconnectGrant:
    """Lets a dropped participant come back as the same participant within a minute."""

    token: str
    participant_id: str
    meeting_id: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReconnectGrant:
        data = json.loads(text)
        return cls(token=data["token"], participant_id=data["participant_id"], meeting_id=data["meeting_id"])


def _dump(record: Any, time_fields: tuple[str, ...]) -> str:
    data = asdict(record)
    for name in time_fields:
        data[name] = iso(data[name])
    return json.dumps(data, separators=(",", ":"))
