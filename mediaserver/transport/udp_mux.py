"""The one UDP port every peer shares: the asyncio shell around MuxCore (socket, timer, nothing else)."""

from __future__ import annotations

import asyncio
import fcntl
import socket
import time
from typing import cast

from .mux_core import CONSENT_TIMEOUT_S, REBIND_AFTER_S, RECONNECT_WINDOW_S, MuxCore
from .ports import MuxCounters

__all__ = ["REBIND_AFTER_S", "MuxCounters", "UdpMux"]

RECEIVE_BUFFER = 4 * 1024 * 1024
# linux/sockios.h: the kernel's receive time (CLOCK_REALTIME) of the last datagram read from the socket.
SIOCGSTAMPNS = 0x8907
_TIMESPEC_SIZE = 16  # struct timespec: two 64-bit words
# A stamp older than this (or ahead of the caller's clock) is not the datagram being handled: take the caller's.
MAX_QUEUED_S = 2.0
_AHEAD_S = 0.01


class UdpMux(MuxCore, asyncio.DatagramProtocol):
    """MuxCore bound to a uvloop datagram endpoint; `poll` runs on one loop timer at the core's deadlines.

    A subclass rather than a wrapper: uvloop calls `datagram_received` straight into the core, with no
    extra Python call per packet.
    """

    def __init__(
        self, consent_timeout: float = CONSENT_TIMEOUT_S, reconnect_window: float = RECONNECT_WINDOW_S
    ) -> None:
        MuxCore.__init__(self, consent_timeout, reconnect_window)
        self._transport: asyncio.DatagramTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self._fd = -1
        self._stamp = bytearray(_TIMESPEC_SIZE)
        self._stamp_words = memoryview(self._stamp).cast("q")  # seconds, nanoseconds: read without unpacking
        # CLOCK_REALTIME minus time.monotonic(), refreshed on every timer (at least once a second, so a slewed or
        # stepped wall clock moves the stamps for a second at most).
        self._realtime_offset = time.time() - time.monotonic()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on `host` (an IPv4 or IPv6 literal; "::" is dual-stack: IPv4 peers arrive v4-mapped)."""
        loop = self._loop = asyncio.get_running_loop()
        ipv6 = ":" in host
        sock = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
        if ipv6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, RECEIVE_BUFFER)
        sock.bind((host, port))
        name = sock.getsockname()  # uvloop takes the socket over: read it first
        bound: tuple[str, int] = (name[0], name[1])
        await loop.create_datagram_endpoint(lambda: self, sock=sock)
        self.clock = loop.time
        self.now = loop.time()
        self.on_deadline = self._arm
        self._arm(self.poll(self.now))
        return bound

    def close(self) -> None:
        self.on_deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.close_all("server shutdown")
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport does not subclass asyncio.DatagramTransport, but has its interface.
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.attach(self._transport.sendto)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self._fd = sock.fileno()
            self.arrival_time(time.monotonic())  # the first ask turns the kernel's receive stamps on

    def arrival_time(self, now: float) -> float:
        """The kernel's receive time of the datagram being handled, on time.monotonic()'s clock (``now``: its reading).

        Transport-cc feedback reports these times to the publisher's delay-based estimator: read from the
        event loop instead, every stall of the loop (GC, a busy slice, a starved process) would show as
        queueing on the path and pull the publisher's estimate down. uvloop calls datagram_received right
        after each recvmsg, so the socket's last stamp is this datagram's; costs an ioctl (~0.4 µs, quiet machine).
        """
        if self._fd < 0:
            return now
        try:
            fcntl.ioctl(self._fd, SIOCGSTAMPNS, self._stamp)
        except OSError:
            return now
        words = self._stamp_words
        arrival = words[0] - self._realtime_offset + words[1] * 1e-9
        if not now - MAX_QUEUED_S < arrival < now + _AHEAD_S:
            return now
        return arrival

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a peer that went away: consent expiry will mark it disconnected.
        self.counters.send_errors += 1

    def _arm(self, deadline: float) -> None:
        if self._loop is None or deadline >= self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._realtime_offset = time.time() - time.monotonic()
        self._timer = None
        self._timer_at = float("inf")
        assert self._loop is not None
        self._arm(self.poll(self._loop.time()))
