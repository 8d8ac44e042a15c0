"""A bot's inbound side: per-track sequence accounting, loss and NACK detection, latency samples, receiver reports.

Nothing is decoded. Loss is counted as an RTP receiver does (RFC 3550 A.3): expected = highest extended
sequence number - first + 1. The SFU re-numbers each subscription contiguously and absorbs the packets it
drops on purpose (other layers, temporal layers it filters), so a gap is a packet lost on the way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from struct import Struct
from struct import error as StructError

from mediaserver.rtp.ntp import ntp_middle32
from mediaserver.rtp.rtcp import Nack, ReceiverReport, ReportBlock, RtcpPacket, SenderReport
from mediaserver.rtp.twcc_recorder import ArrivalRecorder

from .packets import TAG, VP8_KEEP

_SSRC = Struct("!I")
_unpack_ssrc = _SSRC.unpack_from
_unpack_tag = TAG.unpack_from
MAX_MISSING = 1000  # outstanding holes remembered per track (for late retransmissions)
MAX_MISORDER = 1000  # further back than this is a jump ahead, not a late packet
MAX_NACK_PER_GAP = 64
REPORTS_PER_RR = 31


class TrackReceiver:
    """One forwarded track as the subscribing bot sees it."""

    __slots__ = ("_expected_prior", "_received_prior", "base_ext", "cycles", "duplicates", "jumps", "kind",
                 "last_arrival_ns", "last_sr_at", "last_sr_middle", "max_gap_ns", "max_seq", "mid", "misrouted",
                 "missing", "nacked", "publisher_bot", "publisher_id", "received", "recovered", "ssrc", "stream",
                 "stream_changes", "track_id", "video")

    def __init__(self, ssrc: int, kind: str, mid: str, publisher_id: str, track_id: str) -> None:
        self.ssrc = ssrc
        self.kind = kind
        self.video = kind == "video"
        self.mid = mid
        self.publisher_id = publisher_id
        self.track_id = track_id
        self.publisher_bot = -1
        self.base_ext = -1
        self.max_seq = -1
        self.cycles = 0
        self.received = 0
        self.duplicates = 0
        self.recovered = 0
        self.nacked = 0
        self.missing: dict[int, None] = {}  # extended sequence numbers of holes, oldest first
        self.last_arrival_ns = 0
        self.max_gap_ns = 0  # longest silence between two packets since the last reset (a stalled track)
        self.jumps = 0
        self.stream = -1  # tag stream id (1 + simulcast layer) of the latest packet
        self.stream_changes = 0
        self.misrouted = 0
        self.last_sr_middle = 0
        self.last_sr_at = 0.0
        self._expected_prior = 0
        self._received_prior = 0

    @property
    def expected(self) -> int:
        return 0 if self.base_ext < 0 else self.cycles + self.max_seq - self.base_ext + 1

    @property
    def layer(self) -> int:
        return self.stream - 1 if self.video else -1

    def update(self, seq: int) -> list[int] | None:
        """Account one packet; returns newly missing sequence numbers to NACK (None when there are none)."""
        if self.base_ext < 0:
            self.base_ext = seq
            self.max_seq = seq
            self.received = 1
            return None
        delta = (seq - self.max_seq) & 0xFFFF
        if delta == 0:
            self.duplicates += 1
            return None
        if delta < 0x8000:
            previous_ext = self.cycles + self.max_seq
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
            self.received += 1
            if delta == 1:
                return None
            lost = [previous_ext + i for i in range(1, min(delta, MAX_NACK_PER_GAP + 1))]
            missing = self.missing
            for ext in lost:
                missing[ext] = None
            while len(missing) > MAX_MISSING:
                del missing[next(iter(missing))]
            return [ext & 0xFFFF for ext in lost]
        behind = 0x10000 - delta
        if behind > MAX_MISORDER:
            # Too far back to be reordering: the sender jumped ahead (RFC 3550 A.1 would restart here). Count
            # the jump as lost, as a subscriber sees it, without NACKing thousands of packets.
            if seq < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = seq
            self.received += 1
            self.jumps += 1
            return None
        # Older than the highest: a retransmission filling a hole, or a duplicate.
        ext = self.cycles + self.max_seq - behind
        if ext in self.missing:
            del self.missing[ext]
            self.received += 1
            self.recovered += 1
        else:
            self.duplicates += 1
        return None

    def report_block(self, now: float) -> ReportBlock | None:
        if self.base_ext < 0:
            return None
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior, self._received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        cumulative = max(min(expected - self.received, 0x7FFFFF), -0x800000)
        dlsr = int((now - self.last_sr_at) * 65536) if self.last_sr_middle else 0
        return ReportBlock(ssrc=self.ssrc, fraction_lost=min(fraction, 255), packets_lost=cumulative,
                           highest_seq=(self.cycles + self.max_seq) & 0xFFFFFFFF, jitter=0,
                           lsr=self.last_sr_middle, dlsr=dlsr & 0xFFFFFFFF)


class InboundCounters:
    __slots__ = ("misrouted", "no_tag", "packets", "unknown_ssrc")

    def __init__(self) -> None:
        self.packets = 0
        self.unknown_ssrc = 0
        self.no_tag = 0
        self.misrouted = 0


class Receiver:
    """Dispatches a subscriber connection's decrypted packets to their tracks; latencies go to a shared sink."""

    def __init__(self, rtcp_ssrc: int, latency_sink: list[int], send_rtcp: Callable[[bytes], None],
                 bot_of: Callable[[str], int], tagged: bool = True) -> None:
        self.rtcp_ssrc = rtcp_ssrc
        self.tagged = tagged  # False: the server re-encodes (aiortc relay), payloads carry no tag to read
        self.tracks: dict[int, TrackReceiver] = {}
        self.counters = InboundCounters()
        self.nacks_sent = 0
        self._latencies = latency_sink
        self._send_rtcp = send_rtcp
        self._bot_of = bot_of  # publisher participant id -> bot index (-1 if unknown yet)
        # Transport-wide feedback, as a browser gives it: the id from the server's offer (0: none offered).
        self.transport_cc_id = 0
        self.arrivals = ArrivalRecorder()
        self.feedback_sent = 0

    def add_track(self, ssrc: int, kind: str, mid: str, publisher_id: str, track_id: str) -> None:
        if ssrc not in self.tracks:
            self.tracks[ssrc] = TrackReceiver(ssrc, kind, mid, publisher_id, track_id)

    def on_rtp(self, data: bytes, arrival_ns: int) -> None:
        counters = self.counters
        counters.packets += 1
        if self.transport_cc_id and data[0] & 0x10:
            number = transport_seq(data, self.transport_cc_id)
            if number is not None:
                self.arrivals.record(number, arrival_ns / 1e9)
        track = self.tracks.get(_unpack_ssrc(data, 8)[0])
        if track is None:
            counters.unknown_ssrc += 1
            return
        last = track.last_arrival_ns
        if last and arrival_ns - last > track.max_gap_ns:
            track.max_gap_ns = arrival_ns - last
        track.last_arrival_ns = arrival_ns
        lost = track.update((data[2] << 8) | data[3])
        if lost is not None and track.video:  # the server's offers negotiate NACK for video only
            self.nacks_sent += 1
            track.nacked += len(lost)
            self._send_rtcp(Nack(sender_ssrc=self.rtcp_ssrc, media_ssrc=track.ssrc, lost=lost).serialize())
        if not self.tagged:
            return
        # Payload offset: our SFU sends no CSRCs or extensions, but peers (Janus) may.
        b0 = data[0]
        at = 12 + 4 * (b0 & 0x0F)
        try:
            if b0 & 0x10:
                at += 4 + 4 * ((data[at + 2] << 8) | data[at + 3])
            if track.video:
                pos = at + 1
                if data[at] & 0x80:
                    x = data[pos]
                    pos += 1
                    if x & 0x80:
                        pos += 2 if data[pos] & 0x80 else 1
                    if x & 0x40:
                        pos += 1
                    if x & 0x30:
                        pos += 1
                at = pos + VP8_KEEP
            sent_ns, bot, stream, _tid, _counter = _unpack_tag(data, at)
        except (IndexError, StructError):
            counters.no_tag += 1  # a payload too short to carry a tag (or a truncated descriptor)
            return
        self._latencies.append((arrival_ns - sent_ns) // 1000)
        if stream != track.stream:
            if track.stream >= 0:
                track.stream_changes += 1
            track.stream = stream
            if track.publisher_bot != bot:
                track.publisher_bot = bot
                expected_bot = self._bot_of(track.publisher_id)
                if expected_bot >= 0 and expected_bot != bot:
                    track.misrouted += 1
                    counters.misrouted += 1

    def send_feedback(self) -> None:
        """Every ~100 ms, as Chrome does: transport-cc feedback on everything numbered since the last."""
        media_ssrc = next(iter(self.tracks), 0)
        for packet in self.arrivals.feedback(self.rtcp_ssrc, media_ssrc, time.time()):
            self.feedback_sent += 1
            self._send_rtcp(packet)

    def on_sender_report(self, report: SenderReport) -> None:
        track = self.tracks.get(report.ssrc)
        if track is not None:
            track.last_sr_middle = ntp_middle32(report.ntp_timestamp)
            track.last_sr_at = time.monotonic()

    def receiver_reports(self) -> list[RtcpPacket]:
        now = time.monotonic()
        blocks = [b for t in self.tracks.values() if (b := t.report_block(now)) is not None]
        return [ReceiverReport(ssrc=self.rtcp_ssrc, reports=blocks[i : i + REPORTS_PER_RR])
                for i in range(0, len(blocks), REPORTS_PER_RR)]


def transport_seq(data: bytes, ext_id: int) -> int | None:
    """The transport-wide sequence number in an RFC 8285 one-byte extension block, or None."""
    at = 12 + 4 * (data[0] & 0x0F)
    if len(data) < at + 4 or data[at] != 0xBE or data[at + 1] != 0xDE:
        return None
    end = min(at + 4 + 4 * ((data[at + 2] << 8) | data[at + 3]), len(data))
    pos = at + 4
    while pos < end:
        element = data[pos]
        if element == 0:
            pos += 1
            continue
        found, length = element >> 4, (element & 0x0F) + 1
        if found == 15:
            return None
        if found == ext_id and length == 2 and pos + 2 < end:
            return (data[pos + 1] << 8) | data[pos + 2]
        pos += 1 + length
    return None
