"""The small interfaces between the shared-port mux and a peer's session (a leaf: neither imports the other)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

Addr = tuple[str, int]
Sink = Callable[[bytes, Addr], None]


@dataclass
class MuxCounters:
    """Datagram counters, exported as metrics; each drop reason has its own."""

    datagrams_in: int = 0
    datagrams_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    stun_bad: int = 0
    stun_unknown_ufrag: int = 0
    stun_bad_integrity: int = 0
    stun_rebound: int = 0
    ice_restarts: int = 0
    consent_lost: int = 0
    reconnected: int = 0
    dtls_dropped: int = 0
    srtp_unknown_source: int = 0
    srtp_before_keys: int = 0
    srtp_errors: int = 0
    ice_never_started: int = 0  # negotiated transports closed because no ICE check ever came
    ssrc_refused: int = 0  # over a peer's SSRC budget (ssrc_gate.py), dropped before libsrtp
    unknown_first_byte: int = 0
    handler_errors: int = 0
    send_errors: int = 0
    injected_drops: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class RoutedPeer(Protocol):
    """What the mux calls on a peer session: the packet handlers, the ICE binding and the timers."""

    label: str
    state: str
    last_seen: float
    remote_fingerprint: str | None

    def pwd_for(self, ufrag: str) -> bytes | None: ...

    def bind_address(self, addr: Addr, ufrag: str, nominated: bool) -> None: ...

    def release_address(self, addr: Addr) -> None: ...

    def handle_dtls(self, data: bytes, addr: Addr) -> None: ...

    def receive_srtp(self, data: bytes) -> None: ...

    def consent_lost(self) -> None: ...

    def close(self, reason: str) -> None: ...

    def on_timer(self, now: float) -> None: ...


class MuxPort(Protocol):
    """What a peer session needs from the mux: coarse time, counters, sending, its routes and its timer."""

    counters: MuxCounters
    now: float

    def send(self, data: bytes, addr: Addr) -> None: ...

    def clock(self) -> float: ...

    def arrival_time(self, now: float) -> float: ...

    def add_route(self, ufrag: str, peer: RoutedPeer) -> None: ...

    def drop_route(self, ufrag: str) -> None: ...

    def forget(self, peer: RoutedPeer) -> None: ...

    def schedule(self, peer: RoutedPeer, deadline: float | None) -> None: ...
