"""RTCP compound packets: reports, SDES, BYE and feedback as dataclasses, parsed from raw bytes."""

import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

from .buffer import BytesLike
from .errors import ParseError
from .ntp import ntp_from_unix, ntp_middle32, ntp_now, ntp_to_unix, rtt_seconds
from .rtcp_base import (
    FMT_AFB,
    FMT_FIR,
    FMT_NACK,
    FMT_PLI,
    FMT_TRANSPORT_CC,
    HEADER,
    MAX_COUNT,
    PADDING_BIT,
    PSFB,
    RTCP_APP,
    RTCP_BYE,
    RTCP_RR,
    RTCP_SDES,
    RTCP_SR,
    RTCP_XR,
    RTPFB,
    U32,
    UnknownRtcp,
    frame,
    need,
)
from .rtcpfb import (
    Fir,
    Nack,
    Pli,
    Remb,
    TransportCC,
    parse_afb,
    parse_fir,
    parse_nack,
    parse_pli,
    parse_transport_cc,
)

__all__ = [
    "PSFB",
    "RTCP_APP",
    "RTCP_BYE",
    "RTCP_RR",
    "RTCP_SDES",
    "RTCP_SR",
    "RTCP_XR",
    "RTPFB",
    "Bye",
    "Fir",
    "Nack",
    "Pli",
    "ReceiverReport",
    "Remb",
    "ReportBlock",
    "RtcpPacket",
    "Sdes",
    "SenderReport",
    "TransportCC",
    "UnknownRtcp",
    "build_compound",
    "ntp_from_unix",
    "ntp_middle32",
    "ntp_now",
    "ntp_to_unix",
    "parse_rtcp",
    "rtcp_packet_types",
    "rtt_from_report",
]

# Item types of RFC 3550 6.5 (END = 0 terminates a chunk's item list).
SDES_CNAME = 1
SDES_NAME = 2
SDES_TOOL = 6

_REPORT_BLOCK = struct.Struct("!IIIIII")
_SR_INFO = struct.Struct("!IQIII")


@dataclass(slots=True)
class ReportBlock:
    """One reception report (RFC 3550 6.4.1); ``packets_lost`` is signed 24-bit."""

    ssrc: int = 0
    fraction_lost: int = 0
    packets_lost: int = 0
    highest_seq: int = 0
    jitter: int = 0
    lsr: int = 0
    dlsr: int = 0

    def serialize(self) -> bytes:
        if not -0x800000 <= self.packets_lost <= 0x7FFFFF:
            raise ValueError(f"packets_lost {self.packets_lost} does not fit signed 24 bits")
        if not 0 <= self.fraction_lost <= 0xFF:
            raise ValueError(f"fraction_lost {self.fraction_lost} out of range 0..255")
        lost = (self.fraction_lost << 24) | (self.packets_lost & 0xFFFFFF)
        return _REPORT_BLOCK.pack(self.ssrc, lost, self.highest_seq, self.jitter, self.lsr, self.dlsr)


def _blocks(reports: list[ReportBlock]) -> bytes:
    if len(reports) > MAX_COUNT:
        raise ValueError(f"at most {MAX_COUNT} report blocks per packet, got {len(reports)}")
    return b"".join(r.serialize() for r in reports)


@dataclass(slots=True)
class SenderReport:
    """Sender report (RFC 3550 6.4.1); ``ntp_timestamp`` is the full 64-bit NTP time."""

    ssrc: int = 0
    ntp_timestamp: int = 0
    rtp_timestamp: int = 0
    packet_count: int = 0
    octet_count: int = 0
    reports: list[ReportBlock] = field(default_factory=list)

    def serialize(self) -> bytes:
        info = _SR_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        return frame(RTCP_SR, len(self.reports), info + _blocks(self.reports))


@dataclass(slots=True)
class ReceiverReport:
    """Receiver report (RFC 3550 6.4.2)."""

    ssrc: int = 0
    reports: list[ReportBlock] = field(default_factory=list)

    def serialize(self) -> bytes:
        return frame(RTCP_RR, len(self.reports), U32.pack(self.ssrc) + _blocks(self.reports))


@dataclass(slots=True)
class Sdes:
    """Source descriptions: ``chunks`` is ``[(ssrc, [(item_type, value), ...]), ...]``."""

    chunks: list[tuple[int, list[tuple[int, bytes]]]] = field(default_factory=list)

    def serialize(self) -> bytes:
        out = bytearray()
        for ssrc, items in self.chunks:
            out += U32.pack(ssrc)
            for item_type, value in items:
                if not 1 <= item_type <= 0xFF or len(value) > 0xFF:
                    raise ValueError(f"SDES item type {item_type} / length {len(value)} out of range")
                out.append(item_type)
                out.append(len(value))
                out += value
            # The end-of-items null octet is mandatory, hence 1..4 nulls, never 0.
            out += bytes(4 - len(out) % 4)
        return frame(RTCP_SDES, len(self.chunks), bytes(out))


@dataclass(slots=True)
class Bye:
    """Goodbye; ``reason`` None means no reason field, b"" an empty one (distinct on the wire)."""

    ssrcs: list[int] = field(default_factory=list)
    reason: bytes | None = None

    def serialize(self) -> bytes:
        body = b"".join(U32.pack(s) for s in self.ssrcs)
        if self.reason is not None:
            if len(self.reason) > 0xFF:
                raise ValueError("BYE reason longer than 255 bytes")
            reason = bytes((len(self.reason),)) + self.reason
            body += reason + bytes(-len(reason) % 4)
        return frame(RTCP_BYE, len(self.ssrcs), body)


RtcpPacket: TypeAlias = (
    SenderReport | ReceiverReport | Sdes | Bye | Nack | Pli | Fir | Remb | TransportCC | UnknownRtcp
)


def build_compound(packets: Iterable[RtcpPacket]) -> bytes:
    """Concatenate serialized packets into one compound datagram."""
    return b"".join(p.serialize() for p in packets)


def rtt_from_report(block: ReportBlock, now_ntp: int) -> float | None:
    """Round-trip time in seconds from a report block about our stream (None if its LSR is 0)."""
    return rtt_seconds(block.lsr, block.dlsr, now_ntp)


def _walk(data: BytesLike) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(packet_type, count, body_start, body_end)`` for each packet of a compound."""
    size = len(data)
    if size < HEADER.size:
        raise ParseError(f"RTCP packet too short: {size} bytes")
    pos = 0
    while pos < size:
        if pos + HEADER.size > size:
            raise ParseError("truncated RTCP header")
        b0, packet_type, words = HEADER.unpack_from(data, pos)
        if b0 >> 6 != 2:
            raise ParseError(f"RTCP version {b0 >> 6} != 2")
        end = pos + 4 * (words + 1)
        if end > size:
            raise ParseError("RTCP length field overruns datagram")
        body_end = end
        if b0 & PADDING_BIT:
            pad = data[end - 1]
            if pad == 0 or pad > end - pos - HEADER.size:
                raise ParseError(f"invalid RTCP padding count {pad}")
            body_end = end - pad
        yield packet_type, b0 & 0x1F, pos + HEADER.size, body_end
        pos = end


def rtcp_packet_types(data: BytesLike) -> list[tuple[int, int]]:
    """Cheap scan returning ``(packet_type, count_or_fmt)`` per packet, validating only framing."""
    return [(pt, count) for pt, count, _, _ in _walk(data)]


def parse_rtcp(data: BytesLike) -> list[RtcpPacket]:
    """Parse a compound RTCP datagram; raise ParseError on any framing or body error.

    The RFC 3550 rule that a compound starts with SR/RR is not enforced: RFC 5506 reduced-size
    RTCP (used by browsers for feedback) sends NACK/PLI/transport-cc on their own.
    """
    out: list[RtcpPacket] = []
    for packet_type, count, start, end in _walk(data):
        parser = _PARSERS.get((packet_type, count)) or _PARSERS.get((packet_type, -1))
        if parser is None:
            out.append(UnknownRtcp(packet_type, count, bytes(data[start:end])))
        else:
            out.append(parser(data, start, end, count))
    return out


def _parse_blocks(data: BytesLike, pos: int, end: int, count: int) -> list[ReportBlock]:
    need(pos, end, _REPORT_BLOCK.size * count, "report blocks")
    blocks = []
    for _ in range(count):
        ssrc, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, pos)
        cumulative = lost & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost >> 24, cumulative, highest, jitter, lsr, dlsr))
        pos += _REPORT_BLOCK.size
    return blocks


def _parse_sr(data: BytesLike, start: int, end: int, count: int) -> SenderReport:
    need(start, end, _SR_INFO.size, "sender report")
    ssrc, ntp, rtp_ts, packets, octets = _SR_INFO.unpack_from(data, start)
    # Bytes after the report blocks are a profile-specific extension, which we do not model.
    blocks = _parse_blocks(data, start + _SR_INFO.size, end, count)
    return SenderReport(ssrc, ntp, rtp_ts, packets, octets, blocks)


def _parse_rr(data: BytesLike, start: int, end: int, count: int) -> ReceiverReport:
    need(start, end, U32.size, "receiver report")
    return ReceiverReport(U32.unpack_from(data, start)[0], _parse_blocks(data, start + 4, end, count))


def _parse_sdes(data: BytesLike, start: int, end: int, count: int) -> Sdes:
    chunks: list[tuple[int, list[tuple[int, bytes]]]] = []
    pos = start
    for _ in range(count):
        need(pos, end, 4, "SDES chunk")
        ssrc = U32.unpack_from(data, pos)[0]
        pos += 4
        items: list[tuple[int, bytes]] = []
        while True:
            if pos >= end:
                raise ParseError("SDES chunk without terminating null item")
            item_type = data[pos]
            if item_type == 0:
                # Chunks are 32-bit aligned relative to the body start (the header is 4 bytes).
                pos += 1 + (-(pos + 1 - start) % 4)
                break
            need(pos, end, 2, "SDES item")
            value_end = pos + 2 + data[pos + 1]
            if value_end > end:
                raise ParseError("SDES item overruns packet")
            items.append((item_type, bytes(data[pos + 2 : value_end])))
            pos = value_end
        if pos > end:
            raise ParseError("SDES chunk padding overruns packet")
        chunks.append((ssrc, items))
    return Sdes(chunks)


def _parse_bye(data: BytesLike, start: int, end: int, count: int) -> Bye:
    need(start, end, 4 * count, "BYE")
    ssrcs = list(struct.unpack_from(f"!{count}I", data, start))
    pos = start + 4 * count
    reason = None
    if pos < end:
        reason_end = pos + 1 + data[pos]
        if reason_end > end:
            raise ParseError("BYE reason overruns packet")
        reason = bytes(data[pos + 1 : reason_end])
    return Bye(ssrcs, reason)


_Parser = Callable[[BytesLike, int, int, int], RtcpPacket]
# Keyed by (packet_type, fmt); fmt -1 means "any", for types where the field is a count.
_PARSERS: dict[tuple[int, int], _Parser] = {
    (RTCP_SR, -1): _parse_sr,
    (RTCP_RR, -1): _parse_rr,
    (RTCP_SDES, -1): _parse_sdes,
    (RTCP_BYE, -1): _parse_bye,
    (RTPFB, FMT_NACK): parse_nack,
    (RTPFB, FMT_TRANSPORT_CC): parse_transport_cc,
    (PSFB, FMT_PLI): parse_pli,
    (PSFB, FMT_FIR): parse_fir,
    (PSFB, FMT_AFB): parse_afb,
}
