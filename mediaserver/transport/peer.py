"""PeerTransport: one remote peer's ICE-lite + DTLS + SRTP session, reached through the shared UDP port."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable

import structlog
from OpenSSL import SSL

from mediaserver.control_protocol import REASON_OVER_LIMIT

from .dtls import DtlsError, DtlsSession
from .ice_credentials import CredentialRing, IceCredentials
from .ports import Addr, MuxPort
from .srtp import SrtpContext, SrtpError
from .ssrc_gate import MAX_RTCP_SSRCS, NEW_RTCP_SSRC_RATE, SsrcGate

log = structlog.get_logger(__name__)

PacketHandler = Callable[[bytes], None]
PeerEvent = Callable[["PeerTransport"], None]
# The sender's SSRC, in the clear: bytes 8-11 of RTP, 4-7 of RTCP (RFC 3711 leaves headers unencrypted).
_SSRC_AT = struct.Struct("!I").unpack_from


def _ignore(_: bytes) -> None:
    pass


class PeerTransport:
    """State: new -> connecting (first authenticated check) -> connected (DTLS done, fingerprint ok)
    <-> disconnected (consent lost; DTLS and SRTP kept for an ICE restart) -> closed."""

    def __init__(self, mux: MuxPort, ssl_context: SSL.Context, label: str) -> None:
        self.mux = mux
        self.label = label
        self.ice = CredentialRing()
        self.remote_fingerprint: str | None = None
        self.addr: Addr | None = None
        self.state = "new"
        self.close_reason = ""
        self._ssl_context = ssl_context
        self._dtls: DtlsSession | None = None
        self.srtp: SrtpContext | None = None
        self.last_seen = mux.now
        self.on_rtp: PacketHandler = _ignore
        self.on_rtcp: PacketHandler = _ignore
        self.on_connected: PeerEvent | None = None
        self.on_closed: PeerEvent | None = None
        # Consent lost, and media back after it (an ICE restart or the old path returning).
        self.on_disconnected: PeerEvent | None = None
        self.on_resumed: PeerEvent | None = None
        self.srtp_errors = 0
        self.ssrc_gate = SsrcGate(mux.now)
        self.rtcp_gate = SsrcGate(mux.now, MAX_RTCP_SSRCS, MAX_RTCP_SSRCS, NEW_RTCP_SSRC_RATE)
        # The sets themselves: one lookup per packet on the hot path.
        self._known_ssrcs = self.ssrc_gate.known
        self._known_rtcp_ssrcs = self.rtcp_gate.known
        self.loss = 0.0  # injected downlink loss (fault injection only): share of RTP packets dropped
        self._send = mux.send  # bound once: send_rtp runs for every outbound copy
        mux.add_route(self.ice.current.ufrag, self)

    # --- ICE credentials -----------------------------------------------------------------------

    @property
    def local_ufrag(self) -> str:
        return self.ice.current.ufrag

    @property
    def local_pwd(self) -> str:
        return self.ice.current.pwd

    def pwd_for(self, ufrag: str) -> bytes | None:
        return self.ice.pwd_for(ufrag)

    def restart_ice(self) -> IceCredentials:
        """New credentials for an ICE restart; DTLS, SRTP and the address stay until checks move them."""
        fresh, retired = self.ice.rotate()
        if retired is not None:
            self.mux.drop_route(retired)
        if self.state != "closed":
            self.mux.add_route(fresh.ufrag, self)
        self.mux.counters.ice_restarts += 1
        log.info("ice_restart", label=self.label, state=self.state)
        return fresh

    # --- control path -------------------------------------------------------------------------

    def set_remote_fingerprint(self, fingerprint: str) -> None:
        if self.remote_fingerprint is None and self.state == "new":
            self.last_seen = self.mux.now  # negotiated: from now on the peer has a while to start ICE
        self.remote_fingerprint = fingerprint.upper()
        if self._dtls is not None and self._dtls.handshake_done and self.srtp is None:
            self._finish_handshake()

    def bind_address(self, addr: Addr, ufrag: str, nominated: bool) -> None:
        """An authenticated check with `ufrag` arrived from `addr`: that address now reaches this peer."""
        if self.state == "closed":
            return
        self.last_seen = self.mux.now
        retired = self.ice.confirm(ufrag)
        if retired is not None:
            self.mux.drop_route(retired)
        moved = self.addr is not None and self.addr != addr and nominated
        if self.addr is None or nominated:
            self.addr = addr
        if self._dtls is None:
            # Chrome sends its ClientHello right after the first successful check, before nominating.
            self._dtls = DtlsSession(self._ssl_context, server=True)
            self.state = "connecting"
        elif self.state == "disconnected" and self.srtp is not None:
            self.state = "connected"
            self.mux.counters.reconnected += 1
            log.info("transport_resumed", label=self.label, addr=addr)
            self._emit(self.on_resumed)
        elif moved and self.state == "connected":
            # The peer's path changed (a new network): what was sent to the old address is lost.
            log.info("transport_migrated", label=self.label, addr=addr)
            self._emit(self.on_resumed)

    def release_address(self, addr: Addr) -> None:
        """Another session proved it owns `addr` now: stop sending there (consent will notice if nothing else)."""
        if self.addr == addr:
            self.addr = None

    def consent_lost(self) -> None:
        """Nothing heard for the consent timeout: stop sending, keep DTLS/SRTP for an ICE restart."""
        if self.state not in ("connecting", "connected"):
            return
        if self.srtp is None:
            self.close("consent expired before the connection was established")
            return
        self.state = "disconnected"
        self.addr = None
        log.info("transport_disconnected", label=self.label)
        self._emit(self.on_disconnected)

    def handle_dtls(self, data: bytes, addr: Addr) -> None:
        if self._dtls is None or self.state == "closed":
            self.mux.counters.dtls_dropped += 1
            return
        self.last_seen = self.mux.now
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
        self._emit(self.on_connected)

    def _emit(self, handler: PeerEvent | None) -> None:
        if handler is not None:
            handler(self)

    def _arm_dtls_timer(self) -> None:
        if self._dtls is None or self.state == "closed":
            self.mux.schedule(self, None)
            return
        timeout = self._dtls.next_timeout()
        self.mux.schedule(self, None if timeout is None else self.mux.clock() + max(timeout, 0.01))

    def on_timer(self, now: float) -> None:
        """A DTLS flight is due for retransmission."""
        if self._dtls is None or self.state == "closed" or self.addr is None:
            return
        self._send_datagrams(self._dtls.handle_timeout(), self.addr)
        self._arm_dtls_timer()

    def _send_datagrams(self, datagrams: list[bytes], addr: Addr) -> None:
        for datagram in datagrams:
            self.mux.send(datagram, addr)

    def close(self, reason: str) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        self.close_reason = reason
        self.mux.forget(self)
        self.srtp = None
        log.info("transport_closed", label=self.label, reason=reason)
        self._emit(self.on_closed)

    # --- packet path --------------------------------------------------------------------------

    def receive_srtp(self, data: bytes) -> None:
        srtp = self.srtp
        if srtp is None:
            self.mux.counters.srtp_before_keys += 1
            return
        self.last_seen = self.mux.now
        # RFC 5761: payload types 192-223 in the second byte are RTCP.
        if 191 < data[1] < 224:
            ssrc = _SSRC_AT(data, 4)[0]  # the mux passes only datagrams of 12 bytes and more
            if ssrc not in self._known_rtcp_ssrcs and not self._admit_ssrc(self.rtcp_gate, ssrc):
                return
            try:
                plain = srtp.unprotect_rtcp(data)
            except SrtpError:
                self.srtp_errors += 1
                self.mux.counters.srtp_errors += 1
                return
            self.on_rtcp(plain)
        else:
            ssrc = _SSRC_AT(data, 8)[0]  # the mux passes only datagrams of 12 bytes and more
            if ssrc not in self._known_ssrcs and not self._admit_ssrc(self.ssrc_gate, ssrc):
                return
            try:
                plain = srtp.unprotect(data)
            except SrtpError:
                self.srtp_errors += 1
                self.mux.counters.srtp_errors += 1
                return
            self.on_rtp(plain)

    def _admit_ssrc(self, gate: SsrcGate, ssrc: int) -> bool:
        if gate.admit(ssrc, self.mux.now):
            return True
        self.mux.counters.ssrc_refused += 1
        fresh = gate.report_due(self.mux.now)
        if fresh:
            log.warning("ssrc_budget_exceeded", label=self.label, dropped=fresh, known=len(gate.known))
        if gate.over_limit:
            self.close(f"{REASON_OVER_LIMIT}: packets on thousands of SSRCs a second")
        return False

    def forget_ssrc(self, ssrc: int) -> None:
        """The room no longer uses this inbound SSRC: its slot in the gate and its libsrtp stream go."""
        if self.ssrc_gate.forget(ssrc) and self.srtp is not None:
            self.srtp.forget_inbound(ssrc)

    def arrival_time(self, now: float) -> float:
        """When the packet being handled reached the host (the kernel's stamp), on the clock of ``now``."""
        return self.mux.arrival_time(now)

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
