"""What tests drive a PublisherSide with instead of a socket: a settable clock and a connected transport that
keeps the RTCP it is given."""

from __future__ import annotations

from typing import Any


class Clock:
    """Stands in for `time.monotonic` (tests patch it in): moved by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


class RecordingTransport:
    """A connected publisher transport: RTCP sent to the publisher is kept in `rtcp`; the rest goes nowhere."""

    state = "connected"
    on_rtp: Any = None
    on_rtcp: Any = None

    def __init__(self) -> None:
        self.rtcp: list[bytes] = []

    def send_rtcp(self, data: bytes) -> None:
        self.rtcp.append(data)

    def arrival_time(self, now: float) -> float:
        return now  # no socket: the packet arrived when it is handled

    def forget_ssrc(self, ssrc: int) -> None:
        pass  # the SSRC gate and libsrtp sit below PublisherSide

    def close(self, reason: str) -> None:
        pass  # over a rate limit: the caller goes on feeding the same side
