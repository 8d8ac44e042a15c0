"""Meeting state behind one interface: the embedded MemoryStore (default) or RedisStore (`REDIS_URL`)."""

from __future__ import annotations

from .base import Store, StoreUnavailable
from .keys import DEFAULT_TTLS, Ttls
from .memory import MemoryStore
from .records import GuestControls, IceCandidates, Meeting, Participant, ReconnectGrant
from .redis_store import RedisStore

__all__ = [
    "DEFAULT_TTLS",
    "GuestControls",
    "IceCandidates",
    "Meeting",
    "MemoryStore",
    "Participant",
    "ReconnectGrant",
    "RedisStore",
    "Store",
    "StoreUnavailable",
    "Ttls",
]
