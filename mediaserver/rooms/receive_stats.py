"""Per inbound SSRC reception statistics (RFC 3550 A.3/A.8) that feed our receiver reports to publishers."""

from __future__ import annotations

import time

from mediaserver.rtp.ntp import ntp_middle32
from mediaserver.rtp.rtcp import ReportBlock


class ReceiveStats:
    """Counts what arrives on one SSRC; `report_block` computes loss since the previous report."""

    __slots__ = (
        "_base_ext",
        "_clock_rate",
        "_cycles",
        "_expected_prior",
        "_last_sr_at",
        "_last_sr_middle",
        "_max_seq",
        "_received_prior",
        "_transit",
        "bitrate_bytes",
        "jitter",
        "last_fraction_lost",
        "received",
        "ssrc",
    )

    def __init__(self, ssrc: int, clock_rate: int) -> None:
        self.ssrc = ssrc
        self._clock_rate = clock_rate
        self._base_ext = -1
        self._max_seq = -1
        self._cycles = 0
        self.received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._transit = -1.0
        self.jitter = 0.0
        self._last_sr_middle = 0
        self._last_sr_at = 0.0
        self.bitrate_bytes = 0
        self.last_fraction_lost = 0.0

    def update(self, seq: int, timestamp: int, arrival: float, size: int) -> None:
        self.received += 1
        self.bitrate_bytes += size
        if self._max_seq < 0:
            self._base_ext = seq
            self._max_seq = seq
        else:
            delta = (seq - self._max_seq) & 0xFFFF
            if delta < 0x8000:  # in order (or a gap): advance, counting a wrap
                if seq < self._max_seq:
                    self._cycles += 0x10000
                self._max_seq = seq
        transit = arrival * self._clock_rate - timestamp
        if self._transit >= 0:
            d = abs(transit - self._transit)
            if d < self._clock_rate * 10:  # a timestamp jump (new source) is not jitter
                self.jitter += (d - self.jitter) / 16.0
        self._transit = transit

    def on_sender_report(self, ntp: int) -> None:
        self._last_sr_middle = ntp_middle32(ntp)
        self._last_sr_at = time.monotonic()

    @property
    def extended_max(self) -> int:
        return self._cycles + self._max_seq

    def report_block(self) -> ReportBlock | None:
        if self._max_seq < 0:
            return None
        extended_max = self.extended_max
        expected = extended_max - self._base_ext + 1
        lost_total = max(min(expected - self.received, 0x7FFFFF), -0x800000)
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self.received
        lost_interval = expected_interval - received_interval
        fraction = 0 if expected_interval <= 0 or lost_interval <= 0 else (lost_interval << 8) // expected_interval
        self.last_fraction_lost = min(fraction, 255) / 256.0
        dlsr = 0
        if self._last_sr_middle:
            dlsr = int((time.monotonic() - self._last_sr_at) * 65536) & 0xFFFFFFFF
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=lost_total,
            highest_seq=extended_max & 0xFFFFFFFF,
            jitter=int(self.jitter),
            lsr=self._last_sr_middle,
            dlsr=dlsr,
        )
