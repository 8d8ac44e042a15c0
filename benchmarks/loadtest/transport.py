"""A bot's peer connection in the client role: full-ICE controlling checks, DTLS client, SRTP, one UDP socket.

Built on the media server's own DTLS/SRTP code and aioice.stun, as the browser side of the same wire. The
socket is read with recvmsg and SO_TIMESTAMPNS, so every packet carries the kernel's arrival time: latency
is then measured up to the bot's socket, not up to whenever the (busy) bot process got round to reading it.

Network trouble, for the load generator's blips: `blackout` drops everything the connection sends and receives
while it is on (a dead link; the socket and every timer keep running), and `restart_ice` / `update_remote` are an
ICE restart (RFC 8445 9): new local credentials for the next offer or answer, then checks with the remote's new
credentials until one is answered, with the DTLS session and the SRTP contexts kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import time
from collections.abc import Callable

from aioice import stun

from mediaserver.sdp.identity import random_ice_credentials
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.dtls import DtlsError, DtlsSession
from mediaserver.transport.srtp import SrtpContext, SrtpError

from .sdp import LocalIdentity, RemoteTransport

Addr = tuple[str, int]
# Not exported by Python's socket module; SCM_TIMESTAMPNS has the same value (asm-generic/socket.h).
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")
SOCKET_BUFFER = 4 * 1024 * 1024
CHECK_INTERVAL_S = 0.05
CHECK_ATTEMPTS = 100
CONSENT_INTERVAL_S = 2.0
# Reads per wake-up: bounded so one busy socket cannot starve the others (and the senders) on the loop.
MAX_READS_PER_WAKE = 256

RtpHandler = Callable[[bytes, int], None]
RtcpHandler = Callable[[bytes], None]


class TransportCounters:
    """Per-connection datagram counters; the load generator sums them over bots."""

    __slots__ = ("blackout_in", "blackout_out", "bytes_in", "bytes_out", "datagrams_in", "datagrams_out",
                 "dropped_injected", "ice_restarts", "send_errors", "srtp_errors")

    def __init__(self) -> None:
        self.datagrams_in = 0
        self.datagrams_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.srtp_errors = 0
        self.send_errors = 0
        self.dropped_injected = 0
        self.blackout_in = 0  # datagrams dropped by a blackout, each way
        self.blackout_out = 0
        self.ice_restarts = 0  # ICE restarts completed: a check with the remote's new credentials was answered


def _ignore_rtp(data: bytes, arrival_ns: int) -> None:
    pass


def _ignore_rtcp(data: bytes) -> None:
    pass


class ClientTransport:
    """new -> checking -> dtls -> connected -> closed. Callbacks receive decrypted RTP (with arrival ns) and RTCP."""

    def __init__(self, certificate: Certificate, label: str, host: str = "127.0.0.1",
                 drop: Callable[[], bool] | None = None, controlling: bool = True) -> None:
        self.label = label
        # Controlling against an ICE-lite server or as the offerer; controlled when a full-ICE server offered.
        self.controlling = controlling
        self.certificate = certificate
        self.ufrag, self.pwd = random_ice_credentials()
        self.state = "new"
        self.error = ""
        self.counters = TransportCounters()
        self.on_rtp: RtpHandler = _ignore_rtp
        self.on_rtcp: RtcpHandler = _ignore_rtcp
        self.srtp: SrtpContext | None = None
        self.connected = asyncio.Event()
        self._drop = drop  # in-process downlink loss injection: True drops an inbound RTP packet
        self._remote: RemoteTransport | None = None
        self._addr: Addr | None = None  # the remote's address: only datagrams from it are read
        # Where _send sends: the remote's address, or None before start() and during a blackout. One attribute
        # for both, so the send path tests no more than it did before blackouts existed.
        self._dest: Addr | None = None
        self._blackout = False
        self._tie_breaker = int.from_bytes(os.urandom(8), "big")
        # STUN transaction id -> (the remote pwd it was signed with, whether it nominated)
        self._pending: dict[bytes, tuple[bytes, bool]] = {}
        self._consent_started = False
        # The local credentials before an ICE restart, still answered (full-ICE peers) until it completes.
        self._previous_local: tuple[str, str] | None = None
        self._restarting = False  # checking the remote's new credentials after an ICE restart
        self._dtls: DtlsSession | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._dtls_timer: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.setblocking(False)
        self._sock.bind((host, 0))
        self.local_addr: Addr = self._sock.getsockname()
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def describe(self) -> str:
        """State and counters, for the message when a connection does not come up."""
        c = self.counters
        dtls = "none" if self._dtls is None else ("done" if self._dtls.handshake_done else "handshaking")
        timer = "armed" if self._dtls_timer is not None else "idle"
        return (f"{self.label}: {self.state} {self.error} dtls={dtls} timer={timer} in={c.datagrams_in}"
                f" out={c.datagrams_out} send_errors={c.send_errors} remote={self._addr}"
                f" blackout={self._blackout} ice_restarts={c.ice_restarts}{' restarting' if self._restarting else ''}")

    @property
    def remote(self) -> RemoteTransport | None:
        return self._remote

    def identity(self) -> LocalIdentity:
        return LocalIdentity(self.ufrag, self.pwd, self.certificate.fingerprint, *self.local_addr)

    # --- connecting ------------------------------------------------------------------------------

    def start(self, remote: RemoteTransport) -> None:
        """Begin connectivity checks towards the server's candidate; idempotent for the same server."""
        if self._remote is not None:
            return
        self._remote = remote
        self._addr = (remote.host, remote.port)
        self._dest = None if self._blackout else self._addr
        self.state = "checking"
        if not remote.dtls_client_is_us:
            # We are the DTLS server: be ready for the ClientHello that follows the server's own checks.
            self._dtls = DtlsSession(self.certificate.ssl_context(), server=True)
        self._check(attempt=0)

    # --- network trouble -------------------------------------------------------------------------

    @property
    def blackout(self) -> bool:
        """While True, everything this connection would send and everything it receives is dropped."""
        return self._blackout

    @blackout.setter
    def blackout(self, on: bool) -> None:
        self._blackout = on
        self._dest = None if on else self._addr

    def restart_ice(self) -> None:
        """New local ICE credentials: the next offer or answer (`identity()`) carries them."""
        self._previous_local = (self.ufrag, self.pwd)
        self.ufrag, self.pwd = random_ice_credentials()

    def update_remote(self, remote: RemoteTransport) -> bool:
        """The server's transport from a later answer or offer; True when its credentials changed (an ICE restart).

        Before start() this starts. New credentials on a connection past its first check restart the checks against
        them (each nominating, every 50 ms until one is answered), then consent goes on with them; DTLS and SRTP
        stay. The same credentials (an ordinary renegotiation) change nothing.
        """
        current = self._remote
        if current is None:
            self.start(remote)
            return False
        if (remote.ufrag, remote.pwd) == (current.ufrag, current.pwd):
            return False
        if remote.fingerprint != current.fingerprint:
            # Another certificate is another DTLS session: not something an ICE restart can carry over.
            raise ValueError(f"{self.label}: the remote's certificate changed; a new connection is needed")
        self._remote = remote
        self._addr = (remote.host, remote.port)
        self._dest = None if self._blackout else self._addr
        if self.state == "checking":
            return True  # the first checks are still running: they use the new credentials from now on
        if self.state in ("closed", "failed"):
            return True
        self._restarting = True
        self._restart_check(attempt=0)
        return True

    def _restart_check(self, attempt: int) -> None:
        if not self._restarting or self.state in ("closed", "failed"):
            return
        if attempt >= CHECK_ATTEMPTS:
            self._restarting = False  # consent checks carry on with the new credentials
            return
        self._send(self._binding_request(nominate=True))
        self._later(CHECK_INTERVAL_S, lambda: self._restart_check(attempt + 1))

    async def wait_connected(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def _binding_request(self, nominate: bool) -> bytes:
        assert self._remote is not None
        request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        request.attributes["USERNAME"] = f"{self._remote.ufrag}:{self.ufrag}"
        request.attributes["PRIORITY"] = 1853824767
        if self.controlling:
            request.attributes["ICE-CONTROLLING"] = self._tie_breaker
            if nominate:
                request.attributes["USE-CANDIDATE"] = None
        else:
            request.attributes["ICE-CONTROLLED"] = self._tie_breaker
        pwd = self._remote.pwd.encode()
        request.add_message_integrity(pwd)
        request.add_fingerprint()
        self._pending[request.transaction_id] = (pwd, nominate)
        return bytes(request)

    def _check(self, attempt: int) -> None:
        """Aggressive nomination: every check nominates, repeated until one succeeds."""
        if self.state != "checking" or self._consent_started:
            return
        if attempt >= CHECK_ATTEMPTS:
            self._fail(f"no STUN response after {attempt} checks")
            return
        self._send(self._binding_request(nominate=True))
        self._later(CHECK_INTERVAL_S, lambda: self._check(attempt + 1))

    def _start_consent(self) -> None:
        if not self._consent_started:
            self._consent_started = True
            self._later(CONSENT_INTERVAL_S, self._consent)

    def _consent(self) -> None:
        if self.state in ("closed", "failed"):
            return
        self._send(self._binding_request(nominate=False))
        self._later(CONSENT_INTERVAL_S, self._consent)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers = [t for t in self._timers if not t.cancelled() and t.when() > self._loop.time()]
        self._timers.append(self._loop.call_later(delay, callback))

    def _on_stun(self, data: bytes) -> None:
        try:
            message = stun.parse_message(data)
        except Exception:  # aioice raises several types for garbage
            return
        if self._remote is None:
            return
        if message.message_class == stun.Class.REQUEST:
            self._answer_check(message)
            return
        sent = self._pending.pop(message.transaction_id, None)
        if sent is None:
            return
        pwd, nominated = sent
        if message.message_class == stun.Class.ERROR:
            code = message.attributes.get("ERROR-CODE", (0, ""))[0]
            if code == 487:  # role conflict (RFC 8445 7.2.5.1): take the other role and check again
                self.controlling = not self.controlling
            return
        if message.message_class != stun.Class.RESPONSE:
            return
        if not message.check_message_integrity(pwd):
            return
        if len(self._pending) > 64:
            self._pending.clear()  # answers that never came: keep the table small over hours
        if self._restarting and nominated and pwd == self._remote.pwd.encode():
            # The server took a nomination with its new credentials: the restart is done (it retires the old ones).
            self._restarting = False
            self._previous_local = None
            self.counters.ice_restarts += 1
        if self.state == "checking":
            self.state = "dtls"
            if self._dtls is None:
                self._dtls = DtlsSession(self.certificate.ssl_context(), server=False)
                self._send_all(self._dtls.start())
                self._arm_dtls_timer()
            self._start_consent()

    def _answer_check(self, request: stun.Message) -> None:
        """Full-ICE servers (Janus) check us too: answer checks that carry our ufrag and password."""
        username = request.attributes.get("USERNAME")
        if not isinstance(username, str):
            return
        ufrag = username.split(":", 1)[0]
        if ufrag == self.ufrag:
            pwd = self.pwd.encode()
        elif self._previous_local is not None and ufrag == self._previous_local[0]:
            pwd = self._previous_local[1].encode()  # until our restart completes, as the server does
        else:
            return
        try:
            if not request.check_message_integrity(pwd):
                return
        except Exception:  # a truncated MESSAGE-INTEGRITY raises inside aioice
            return
        assert self._addr is not None
        response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, request.transaction_id)
        response.attributes["XOR-MAPPED-ADDRESS"] = self._addr
        response.add_message_integrity(pwd)
        response.add_fingerprint()
        self._send(bytes(response))

    def _on_dtls(self, data: bytes) -> None:
        if self._dtls is None:
            return
        try:
            replies = self._dtls.receive(data)
        except DtlsError as exc:
            self._fail(str(exc))
            return
        self._send_all(replies)
        if self._dtls.handshake_done and self.srtp is None:
            assert self._remote is not None
            if self._dtls.peer_fingerprint() != self._remote.fingerprint:
                self._fail("the server's certificate does not match its SDP fingerprint")
                return
            self.srtp = self._dtls.srtp
            self.state = "connected"
            self._start_consent()
            self.connected.set()
        self._arm_dtls_timer()

    def _arm_dtls_timer(self) -> None:
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
            self._dtls_timer = None
        if self._dtls is None or self.state not in ("dtls", "connected"):
            return
        timeout = self._dtls.next_timeout()
        if timeout is not None:
            self._dtls_timer = self._loop.call_later(max(timeout, 0.01), self._on_dtls_timeout)

    def _on_dtls_timeout(self) -> None:
        self._dtls_timer = None
        if self._dtls is not None and self.state in ("dtls", "connected"):
            self._send_all(self._dtls.handle_timeout())
            self._arm_dtls_timer()

    def _fail(self, reason: str) -> None:
        if self.state in ("closed", "failed"):
            return
        self.error = reason
        self.state = "failed"

    # --- datagrams -------------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        dest = self._dest
        if dest is None:
            if self._blackout:
                self.counters.blackout_out += 1
            return
        try:
            self._sock.sendto(data, dest)
        except (BlockingIOError, OSError):
            self.counters.send_errors += 1
            return
        self.counters.datagrams_out += 1
        self.counters.bytes_out += len(data)

    def _send_all(self, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            self._send(datagram)

    def send_rtp(self, plain: bytes) -> bool:
        srtp = self.srtp
        if srtp is None:
            return False
        try:
            protected = srtp.protect(plain)
        except SrtpError:
            self.counters.srtp_errors += 1
            return False
        self._send(protected)
        return True

    def flood_sender(self) -> Callable[[bytes], bool]:
        """A sender of RTP packets each on an SSRC of its own, that goes on whatever becomes of this connection:
        protects with today's keys (freeing each SSRC's libsrtp stream at once, so its cost stays flat) and sends
        to the server's address, from this socket while it is open and from one of its own once it is closed.
        What an attacker does after the server cut it off (benchmarks/loadtest/attacks.py); True: sent."""
        srtp, addr = self.srtp, self._addr
        if srtp is None or addr is None:
            raise RuntimeError("not connected: no keys and no server address to flood")
        spare: list[socket.socket] = []

        def send(plain: bytes) -> bool:
            sock = self._sock if self.state != "closed" else None
            if sock is None:
                if not spare:
                    spare.append(socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET,
                                               socket.SOCK_DGRAM))
                    spare[0].setblocking(False)
                sock = spare[0]
            try:
                protected = srtp.protect(plain)
            except SrtpError:
                return False
            finally:
                srtp.forget_outbound(int.from_bytes(plain[8:12], "big"))
            try:
                sock.sendto(protected, addr)
            except OSError:
                return False
            return True

        return send

    def send_rtcp(self, plain: bytes) -> None:
        srtp = self.srtp
        if srtp is None:
            return
        try:
            protected = srtp.protect_rtcp(plain)
        except SrtpError:
            self.counters.srtp_errors += 1
            return
        self._send(protected)

    def _on_readable(self) -> None:
        if self._blackout:
            self._drain()
            return
        recvmsg = self._sock.recvmsg
        counters = self.counters
        for _ in range(MAX_READS_PER_WAKE):
            try:
                data, ancillary, _flags, addr = recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                counters.send_errors += 1  # ICMP errors surface here on a connected peer going away
                return
            if addr != self._addr or not data:
                continue
            counters.datagrams_in += 1
            counters.bytes_in += len(data)
            first = data[0]
            if 127 < first < 192:
                self._on_srtp(data, ancillary)
            elif first < 4:
                self._on_stun(data)
            elif 19 < first < 64:
                self._on_dtls(data)

    def _drain(self) -> None:
        """A blackout: what arrives is read and dropped, as a dead link would never have delivered it."""
        recv = self._sock.recv
        for _ in range(MAX_READS_PER_WAKE):
            try:
                recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            self.counters.blackout_in += 1

    def _on_srtp(self, data: bytes, ancillary: list[tuple[int, int, bytes]]) -> None:
        srtp = self.srtp
        if srtp is None:
            return
        if 191 < data[1] < 224:
            try:
                plain = srtp.unprotect_rtcp(data)
            except SrtpError:
                self.counters.srtp_errors += 1
                return
            self.on_rtcp(plain)
            return
        if self._drop is not None and self._drop():
            self.counters.dropped_injected += 1
            return
        if ancillary:
            seconds, nanos = _TIMESPEC.unpack(ancillary[0][2])
            arrival = seconds * 1_000_000_000 + nanos
        else:
            arrival = time.time_ns()
        try:
            plain = srtp.unprotect(data)
        except SrtpError:
            self.counters.srtp_errors += 1
            return
        self.on_rtp(plain, arrival)

    def close(self) -> None:
        if self.state == "closed":
            return
        self.state = "closed"
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._dtls_timer is not None:
            self._dtls_timer.cancel()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
