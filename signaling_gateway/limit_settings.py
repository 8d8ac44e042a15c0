"""The gateway's abuse limits as one immutable value: defaults, and the WS_RATE_LIMITS override syntax."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import messages as m
from .token_bucket import Rate

# Messages that failed to parse (bad JSON, unknown type, binary frames): each one costs us an error reply.
INVALID = "invalid"

# Per socket, per message type: what a browser sends at its busiest, with room to spare. A join publishes once
# (again for a screen share or a codec change); offers are answered one by one; the client pings every 2 s;
# window resizes send video_prefs in bursts (coalesced below them anyway); a host may mute a whole room at once.
DEFAULT_WS_RATES: Mapping[str, Rate] = MappingProxyType({
    m.PUBLISH_OFFER: Rate(1, 5),
    m.SUBSCRIBE_ANSWER: Rate(5, 20),
    m.PING: Rate(2, 10),
    m.PONG: Rate(2, 10),
    m.MEDIA_STATE: Rate(5, 20),
    m.VIDEO_PREFS: Rate(10, 30),
    m.HOST_ACTION: Rate(5, 30),
    m.REQUEST_UNMUTE: Rate(1, 5),
    m.RESTART_ICE: Rate(1, 5),
    m.CONNECTION_STATS: Rate(2, 10),
    m.CLIENT_REPORT: Rate(2, 10),
    INVALID: Rate(2, 20),
})  # fmt: skip


DEFAULT_JOIN_RATE = Rate(20 / 60, 20)


@dataclass(frozen=True)
class LimitSettings:
    """Every limit the gateway enforces against one client; env names in config.py and the READMEs."""

    # People in one meeting (the store's count, every gateway, parked ones included). The host always gets in.
    max_participants: int = 20
    # Open sockets on this gateway per guest token (a reload briefly overlaps the old socket; a second tab).
    max_sockets_per_guest: int = 3
    # Open sockets on this gateway per client address: a whole office behind one NAT can fill a meeting.
    max_sockets_per_address: int = 30
    # POST /join per client address: each one mints a guest token.
    join_rate: Rate = DEFAULT_JOIN_RATE
    ws_rates: Mapping[str, Rate] = field(default_factory=lambda: DEFAULT_WS_RATES)
    # Dropped messages a socket may accumulate (refilling over 10 s) before it is closed.
    ws_flood_close: int = 200
    # restart_ice / video_prefs repeated within this many seconds collapse into one (the latest, at its end).
    coalesce_window: float = 1.0
    # /login: failures per address and per account before each further one waits, doubling from login_delay.
    login_free_failures: int = 3
    login_delay: float = 1.0
    # ...and after this many, nothing (the right password included) is tried for login_lockout seconds.
    login_max_failures: int = 10
    login_lockout: float = 300.0
    # argon2 verifications running at once (64 MiB each).
    login_concurrency: int = 1
    # Behind a reverse proxy every client has the proxy's address: take the one it appends to X-Forwarded-For.
    trust_forwarded_for: bool = False


def parse_ws_rates(raw: str) -> Mapping[str, Rate]:
    """`publish_offer=1/5,ping=2/10`: per-second rate / burst for the types named; the others keep defaults."""
    rates = dict(DEFAULT_WS_RATES)
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        kind, _, value = item.partition("=")
        per_second, _, burst = value.partition("/")
        kind = kind.strip()
        if kind not in DEFAULT_WS_RATES:
            raise ValueError(f"unknown message type {kind!r} (one of: {', '.join(sorted(DEFAULT_WS_RATES))})")
        try:
            rates[kind] = Rate(float(per_second), float(burst))
        except ValueError:
            raise ValueError(f"{item!r}: expected type=per_second/burst, e.g. ping=2/10") from None
    return MappingProxyType(rates)
