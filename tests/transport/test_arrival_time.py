"""A datagram's arrival time is the kernel's, not when a busy event loop got round to it (transport-cc reports it)."""

from __future__ import annotations

import asyncio
import socket
import time

import uvloop

from mediaserver.transport.mux_core import MuxCore
from mediaserver.transport.ports import Addr
from mediaserver.transport.udp_mux import UdpMux

GAP_S = 0.02


class StampingMux(UdpMux):
    """The real shell, with each datagram's arrival time read where a peer's handler would read it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, float]] = []  # (arrival, handled)

    def datagram_received(self, data: bytes, addr: Addr) -> None:
        now = time.monotonic()
        self.seen.append((self.arrival_time(now), now))


async def _stalled_loop(count: int) -> tuple[list[float], list[tuple[float, float]]]:
    mux = StampingMux()
    host, port = await mux.start("127.0.0.1", 0)
    sent: list[float] = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for i in range(count):
                # The loop is blocked all along: every datagram waits in the socket until it is released.
                sent.append(time.monotonic())
                sender.sendto(bytes([i]), (host, port))
                time.sleep(GAP_S)
            deadline = time.monotonic() + 5
            while len(mux.seen) < count and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
    finally:
        mux.close()
    return sent, mux.seen


def test_datagrams_read_in_one_burst_after_a_stall_keep_their_own_arrival_times() -> None:
    sent, seen = uvloop.run(_stalled_loop(6))
    assert len(seen) == len(sent)
    handled = [at for _, at in seen]
    assert handled[-1] - handled[0] < GAP_S  # the loop read them all at once...
    for when_sent, (arrival, when_handled) in zip(sent, seen, strict=True):
        assert abs(arrival - when_sent) < GAP_S / 4  # ...yet each carries the time it came in
        assert arrival <= when_handled


def test_without_a_socket_the_arrival_is_the_callers_clock() -> None:
    assert MuxCore().arrival_time(12.5) == 12.5
    assert UdpMux().arrival_time(7.25) == 7.25  # not started: no socket to ask
