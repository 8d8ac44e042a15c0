"""The shared port's logic without sockets or an event loop: datagrams, addresses and time in; datagrams out.

RFC 7983 demultiplexing, STUN routing by ufrag, SRTP routing by address, consent and the reconnect window.
Outbound datagrams go to a sink (the socket's sendto in production, a list in tests) rather than being
returned: the fan-out would otherwise build a list of 19 copies per inbound packet. Timers are data:
`poll(now)` runs what is due and returns when it wants to be called next (aioquic's shape).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from . import ice_lite
from .ports import Addr, MuxCounters, RoutedPeer, Sink

log = structlog.get_logger(__name__)

CONSENT_TIMEOUT_S = 30.0
# A participant whose transport lost consent is kept this long for an ICE restart before it is closed.
RECONNECT_WINDOW_S = 60.0
# An address moves to another session only after its current one has heard nothing for this long (s).
REBIND_AFTER_S = 2.0
# Consent and the reconnect window are checked this often; nothing on the packet path reads a clock.
HOUSEKEEPING_S = 1.0


def _unbound(data: bytes, addr: Addr) -> None:
    raise RuntimeError("the mux has no socket yet")


class MuxCore:
    """Routes each datagram to its peer session; never awaits and never logs per packet."""

    def __init__(
        self,
        consent_timeout: float = CONSENT_TIMEOUT_S,
        reconnect_window: float = RECONNECT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.counters = MuxCounters()
        self.consent_timeout = consent_timeout
        self.reconnect_window = reconnect_window
        self.clock = clock
        self.now = clock()  # coarse: advanced by poll(), read on the packet path instead of a clock call
        self._sendto: Sink = _unbound
        self._by_ufrag: dict[str, RoutedPeer] = {}
        self._by_addr: dict[Addr, RoutedPeer] = {}
        self._peers: set[RoutedPeer] = set()
        self._deadlines: dict[RoutedPeer, float] = {}
        self._next_housekeeping = self.now + HOUSEKEEPING_S
        self.on_deadline: Callable[[float], None] | None = None  # the shell re-arms its timer when told
        self._handler_error_logged = 0

    def attach(self, sink: Sink) -> None:
        self._sendto = sink

    # --- registry (MuxPort) ------------------------------------------------------------------

    def add_route(self, ufrag: str, peer: RoutedPeer) -> None:
        self._by_ufrag[ufrag] = peer
        self._peers.add(peer)

    def drop_route(self, ufrag: str) -> None:
        self._by_ufrag.pop(ufrag, None)

    def forget(self, peer: RoutedPeer) -> None:
        for ufrag in [u for u, p in self._by_ufrag.items() if p is peer]:
            del self._by_ufrag[ufrag]
        for addr in [a for a, p in self._by_addr.items() if p is peer]:
            del self._by_addr[addr]
        self._peers.discard(peer)
        self._deadlines.pop(peer, None)

    def schedule(self, peer: RoutedPeer, deadline: float | None) -> None:
        if deadline is None:
            self._deadlines.pop(peer, None)
            return
        self._deadlines[peer] = deadline
        if self.on_deadline is not None:
            self.on_deadline(deadline)

    @property
    def peer_count(self) -> int:
        return len(self._peers)

    def peer_at(self, addr: Addr) -> RoutedPeer | None:
        return self._by_addr.get(addr)

    def close_all(self, reason: str) -> None:
        for peer in list(self._peers):
            peer.close(reason)

    # --- sending -----------------------------------------------------------------------------

    def send(self, data: bytes, addr: Addr) -> None:
        counters = self.counters
        counters.datagrams_out += 1
        counters.bytes_out += len(data)
        self._sendto(data, addr)

    sendto = send

    # --- receiving (the hot path) ------------------------------------------------------------

    def arrival_time(self, now: float) -> float:
        """When the datagram being handled reached the host, on the clock ``now`` was just read from.

        Without a socket (tests, the fuzz rigs) that is ``now``; UdpMux asks the kernel.
        """
        return now

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        counters = self.counters
        counters.datagrams_in += 1
        counters.bytes_in += len(data)
        try:
            first = data[0]
            if 127 < first < 192:
                peer = self._by_addr.get(addr)
                if peer is None:
                    counters.srtp_unknown_source += 1
                elif len(data) < 12:
                    counters.srtp_errors += 1
                else:
                    peer.receive_srtp(data)
            elif first < 4:
                self._handle_stun(data, addr)
            elif 19 < first < 64:
                peer = self._by_addr.get(addr)
                if peer is None:
                    counters.dtls_dropped += 1
                else:
                    peer.handle_dtls(data, addr)
            else:
                counters.unknown_first_byte += 1
        except IndexError:
            counters.unknown_first_byte += 1  # empty datagram
        except Exception:
            # A bug in a handler must cost one packet, not the port every participant shares.
            counters.handler_errors += 1
            if self._handler_error_logged < 20:
                self._handler_error_logged += 1
                log.exception("datagram_handler_error", addr=addr)

    def _handle_stun(self, data: bytes, addr: Addr) -> None:
        try:
            check = ice_lite.parse_binding_request(data)
        except ice_lite.StunError:
            self.counters.stun_bad += 1
            return
        if check is None:  # indication (keepalive) or a stray response
            peer = self._by_addr.get(addr)
            if peer is not None:
                peer.last_seen = self.now
            return
        peer = self._by_ufrag.get(check.local_ufrag)
        pwd = peer.pwd_for(check.local_ufrag) if peer is not None else None
        if peer is None or pwd is None:
            self.counters.stun_unknown_ufrag += 1
            return
        if not ice_lite.verify(check, pwd):
            self.counters.stun_bad_integrity += 1
            self.send(ice_lite.binding_error(check, 401, "Unauthorized"), addr)
            return
        owner = self._by_addr.get(addr)
        if owner is not None and owner is not peer:
            if owner.state != "closed" and owner.last_seen >= self.now - REBIND_AFTER_S:
                # Its session still hears from this address: a spoofed check (credentials of another session
                # are enough to send one) must not take a live participant's media away.
                self.counters.stun_bad += 1
                return
            # The old peer went quiet and the OS gave its port to a new socket that now proves this session's
            # credentials. Waiting for the old session's consent to expire would leave the new one dark 30 s.
            owner.release_address(addr)
            self.counters.stun_rebound += 1
            log.info("ice_address_rebound", addr=addr, old=owner.label, new=peer.label)
        self._by_addr[addr] = peer
        peer.bind_address(addr, check.local_ufrag, check.nominated)
        self.send(ice_lite.binding_success(check, addr, pwd), addr)

    # --- time --------------------------------------------------------------------------------

    def poll(self, now: float) -> float:
        """Run the timers that are due at `now`; returns the time of the next one."""
        self.now = now
        for peer, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[peer]
                peer.on_timer(now)
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + HOUSEKEEPING_S
            self._housekeeping(now)
        return min([self._next_housekeeping, *self._deadlines.values()])

    def _housekeeping(self, now: float) -> None:
        consent_limit = now - self.consent_timeout
        for peer in list(self._peers):
            if peer.state in ("connecting", "connected") and peer.last_seen < consent_limit:
                # Not closed: the participant stays for its reconnect window, waiting for an ICE restart.
                self.counters.consent_lost += 1
                peer.consent_lost()
            elif peer.state == "disconnected" and peer.last_seen < consent_limit - self.reconnect_window:
                peer.close(f"no ICE restart within {self.reconnect_window:g} s of losing consent")
            elif peer.state == "new" and peer.remote_fingerprint is not None and peer.last_seen < consent_limit:
                # Negotiated but never checked: a socket that opened and went away, or a flood of joins.
                self.counters.ice_never_started += 1
                peer.close(f"ICE never started within {self.consent_timeout:g} s of the SDP exchange")
