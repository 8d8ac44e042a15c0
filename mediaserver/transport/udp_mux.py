"""The one UDP port every peer shares: RFC 7983 demultiplexing, STUN routing by ufrag, SRTP routing by address."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, cast

import structlog

from . import ice_lite

if TYPE_CHECKING:
    from .peer import Addr, PeerTransport

log = structlog.get_logger(__name__)

CONSENT_TIMEOUT_S = 30.0
# An address moves to another session only after its current one has heard nothing for this long (ticks, s).
REBIND_AFTER_S = 2
RECEIVE_BUFFER = 4 * 1024 * 1024


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
    dtls_dropped: int = 0
    srtp_unknown_source: int = 0
    srtp_before_keys: int = 0
    srtp_errors: int = 0
    unknown_first_byte: int = 0
    handler_errors: int = 0
    send_errors: int = 0
    injected_drops: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class UdpMux(asyncio.DatagramProtocol):
    """Routes each datagram to its PeerTransport; never awaits and never logs per packet."""

    def __init__(self, consent_timeout: float = CONSENT_TIMEOUT_S) -> None:
        self.counters = MuxCounters()
        self.consent_timeout = consent_timeout
        self.tick = 0  # seconds since start, advanced by a timer: cheaper than a clock read per packet
        self._by_ufrag: dict[str, PeerTransport] = {}
        self._by_addr: dict[Addr, PeerTransport] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._sendto = self._not_started
        self._ticker: asyncio.TimerHandle | None = None
        self._handler_error_logged = 0

    @staticmethod
    def _not_started(data: bytes, addr: Addr) -> None:
        raise RuntimeError("UdpMux is not bound")

    async def start(self, host: str, port: int) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
        bound: tuple[str, int] = sock.getsockname()  # uvloop takes the socket over: read it first
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self._ticker = loop.call_later(1.0, self._on_tick)
        return bound

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for peer in list(self._by_ufrag.values()):
            peer.close("server shutdown")
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport, but has its interface.
        transport = cast(asyncio.DatagramTransport, transport)
        self._transport = transport
        self._sendto = transport.sendto

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that went away: consent expiry will close it.
        self.counters.send_errors += 1

    # --- registry --------------------------------------------------------------------------

    def register(self, peer: PeerTransport) -> None:
        self._by_ufrag[peer.local_ufrag] = peer

    def unregister(self, peer: PeerTransport) -> None:
        self._by_ufrag.pop(peer.local_ufrag, None)
        for addr in [a for a, p in self._by_addr.items() if p is peer]:
            del self._by_addr[addr]

    @property
    def peer_count(self) -> int:
        return len(self._by_ufrag)

    # --- sending ---------------------------------------------------------------------------

    def send(self, data: bytes, addr: Addr) -> None:
        counters = self.counters
        counters.datagrams_out += 1
        counters.bytes_out += len(data)
        self._sendto(data, addr)

    sendto = send

    # --- receiving (the hot path) ------------------------------------------------------------

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
                peer.last_seen_tick = self.tick
            return
        peer = self._by_ufrag.get(check.local_ufrag)
        if peer is None:
            self.counters.stun_unknown_ufrag += 1
            return
        if not ice_lite.verify(check, peer.local_pwd_bytes):
            self.counters.stun_bad_integrity += 1
            self.send(ice_lite.binding_error(check, 401, "Unauthorized"), addr)
            return
        owner = self._by_addr.get(addr)
        if owner is not None and owner is not peer:
            if owner.state != "closed" and owner.last_seen_tick >= self.tick - REBIND_AFTER_S:
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
        peer.bind_address(addr, check.nominated)
        self.send(ice_lite.binding_success(check, addr, peer.local_pwd_bytes), addr)

    # --- consent ---------------------------------------------------------------------------

    def _on_tick(self) -> None:
        self.tick += 1
        loop = asyncio.get_running_loop()
        self._ticker = loop.call_later(1.0, self._on_tick)
        limit = self.tick - self.consent_timeout
        for peer in list(self._by_ufrag.values()):
            if peer.state in ("connecting", "connected") and peer.last_seen_tick < limit:
                peer.close(f"consent expired: nothing received for {self.consent_timeout:g} s")
