"""PeerTransport: one remote peer's ICE-lite + DTLS + SRTP session, reached through the shared UDP port."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from OpenSSL import SSL

from .dtls import DtlsError, DtlsSession
from .srtp import SrtpContext, SrtpError

if TYPE_CHECKING:
    from .udp_mux import UdpMux

log = structlog.get_logger(__name__)

Addr = tuple[str, int]
PacketHandler = Callable[[bytes], None]


def _ignore(_: bytes) -> None:
    pass


class PeerTransport:
    """State: new -> connecting (first authenticated check) -> connected (DTLS done, fingerprint ok) -> closed."""

    def __init__(self, mux: UdpMux, ssl_context: SSL.Context, label: str) -> None:
        self.mux = mux
        self.label = label
        # ICE credentials: ufrag 8 chars and pwd 24 chars keep us above RFC 8445's 24/128-bit minimums.
        self.local_ufrag = secrets.token_hex(4)
        self.local_pwd = secrets.token_hex(12)
        self.local_pwd_bytes = self.local_pwd.encode()
        self.remote_fingerprint: str | None = None
        self.addr: Addr | None = None
        self.state = "new"
        self.close_reason = ""
        self._ssl_context = ssl_context
        self._dtls: DtlsSession | None = None
        self._dtls_timer: asyncio.TimerHandle | None = None
        self.srtp: SrtpContext | None = None
        self.last_seen_tick = mux.tick
        self.on_rtp: PacketHandler = _ignore
        self.on_rtcp: PacketHandler = _ignore
        self.on_connected: Callable[[PeerTransport], None] | None = None
        self.on_closed: Callable[[PeerTransport], None] | None = None
        self.srtp_errors = 0
        self.loss = 0.0  # injected downlink loss (fault injection only): share of RTP packets dropped
        self._send = mux.send  # bound once: send_rtp runs for every outbound copy
        mux.register(self)

    # --- control path -------------------------------------------------------------------------

    def set_remote_fingerprint(self, fingerprint: str) -> None:
        self.remote_fingerprint = fingerprint.upper()
        if self._dtls is not None and self._dtls.handshake_done and self.srtp is None:
            self._finish_handshake()

    def bind_address(self, addr: Addr, nominated: bool) -> None:
        """An authenticated check arrived from `addr`: that address now reaches this peer."""
        if self.state == "closed":
            return
        self.last_seen_tick = self.mux.tick
        if self.addr is None or nominated:
            self.addr = addr
        if self._dtls is None:
            # Chrome sends its ClientHello right after the first successful check, before nominating.
            self._dtls = DtlsSession(self._ssl_context, server=True)
            self.state = "connecting"

    def release_address(self, addr: Addr) -> None:
        """Another session proved it owns `addr` now: stop sending there (consent will close us if nothing else)."""
        if self.addr == addr:
            self.addr = None

    def handle_dtls(self, data: bytes, addr: Addr) -> None:
        if self._dtls is None or self.state == "closed":
            self.mux.counters.dtls_dropped += 1
            return
        self.last_seen_tick = self.mux.tick
        try:
            replies = self._dtls.receive(data)
        except DtlsError as exc:
            self.close(f"dtls: {exc}")
            return
        self._send_datagrams(replies, addr)
        if self._dtls.closed:
            self.close("dtls close_notify")
            return
        if self._dtls.handshake_done and self.srtp is None:
            self._finish_handshake()
        self._arm_dtls_timer()

    def _finish_handshake(self) -> None:
        assert self._dtls is not None
        if self.remote_fingerprint is None:
            return  # the answer carrying it has not arrived yet: wait, set_remote_fingerprint resumes
        actual = self._dtls.peer_fingerprint()
        if actual != self.remote_fingerprint:
            self.close("dtls: certificate does not match the SDP fingerprint")
            return
        self.srtp = self._dtls.srtp
        self.state = "connected"
        log.info("transport_connected", label=self.label, addr=self.addr,
                 profile=self.srtp.profile.openssl_name.decode() if self.srtp else None)
        if self.on_connected is not None:
            self.on_connected(self)

    def _arm_dtls_timer(self) -> None:
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
            self._dtls_timer = None
        if self._dtls is None or self.state == "closed":
            return
        timeout = self._dtls.next_timeout()
        if timeout is not None:
            self._dtls_timer = asyncio.get_running_loop().call_later(max(timeout, 0.01), self._on_dtls_timeout)

    def _on_dtls_timeout(self) -> None:
        self._dtls_timer = None
        if self._dtls is None or self.state == "closed" or self.addr is None:
            return
        self._send_datagrams(self._dtls.handle_timeout(), self.addr)
        self._arm_dtls_timer()

    def _send_datagrams(self, datagrams: list[bytes], addr: Addr) -> None:
        for datagram in datagrams:
            self.mux.sendto(datagram, addr)

    def close(self, reason: str) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.close_reason = reason
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
            self._dtls_timer = None
        self.mux.unregister(self)
        self.srtp = None
        log.info("transport_closed", label=self.label, reason=reason)
        if self.on_closed is not None:
            self.on_closed(self)

    # --- packet path --------------------------------------------------------------------------

    def receive_srtp(self, data: bytes) -> None:
        srtp = self.srtp
        if srtp is None:
            self.mux.counters.srtp_before_keys += 1
            return
        self.last_seen_tick = self.mux.tick
        # RFC 5761: payload types 192-223 in the second byte are RTCP.
        if 191 < data[1] < 224:
            try:
                plain = srtp.unprotect_rtcp(data)
            except SrtpError:
                self.srtp_errors += 1
                self.mux.counters.srtp_errors += 1
                return
            self.on_rtcp(plain)
        else:
            try:
                plain = srtp.unprotect(data)
            except SrtpError:
                self.srtp_errors += 1
                self.mux.counters.srtp_errors += 1
                return
            self.on_rtp(plain)

    def send_rtp(self, plain: bytes) -> None:
        srtp = self.srtp
        addr = self.addr
        if srtp is None or addr is None:
            return
        if self.loss and random.random() < self.loss:
            self.mux.counters.injected_drops += 1
            return
        try:
            protected = srtp.protect(plain)
        except SrtpError:
            self.mux.counters.srtp_errors += 1
            return
        self._send(protected, addr)

    def send_rtcp(self, plain: bytes) -> None:
        srtp = self.srtp
        addr = self.addr
        if srtp is None or addr is None:
            return
        try:
            protected = srtp.protect_rtcp(plain)
        except SrtpError:
            self.mux.counters.srtp_errors += 1
            return
        self.mux.send(protected, addr)
