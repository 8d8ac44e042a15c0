"""Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01), both ways."""

import struct
from dataclasses import dataclass

from .buffer import BytesLike
from .errors import ParseError

__all__ = [
    "DELTA_TICK_US",
    "REFERENCE_TICK_US",
    "TwccFeedback",
    "decode_feedback",
    "encode_feedback",
]

DELTA_TICK_US = 250  # receive deltas count quarter milliseconds
REFERENCE_TICK_US = 64_000  # the reference time counts 64 ms
_REFERENCE_MIN = -(1 << 23)
_REFERENCE_MAX = (1 << 23) - 1

# Packet status symbols (section 3.1.1). 3 is reserved in the draft: libwebrtc never sends it.
_NOT_RECEIVED = 0
_SMALL_DELTA = 1  # one byte, 0..63.75 ms
_LARGE_DELTA = 2  # two bytes signed, -8192..8191.75 ms
_RESERVED = 3

_HEAD = struct.Struct("!HHi")  # base seq, status count, then reference time (24 bits) and fb count (8 bits)
_CHUNK = struct.Struct("!H")
_MAX_RUN = (1 << 13) - 1
_ONE_BIT_SYMBOLS = 14
_TWO_BIT_SYMBOLS = 7


@dataclass(frozen=True, slots=True)
class TwccFeedback:
    """One feedback packet's FCI: for each packet from ``base_seq`` on, its arrival in microseconds or None (lost).

    Arrival times are ``reference_time * 64000`` plus the cumulative receive deltas: in the feedback sender's own
    time base, meaningful only as differences.
    """

    base_seq: int
    reference_time: int  # signed 24-bit count of 64 ms
    feedback_count: int
    arrivals: list[tuple[int, int | None]]


def decode_feedback(fci: BytesLike) -> TwccFeedback:
    """Decode the FCI of an RTPFB fmt=15 packet (what follows the two SSRCs); ParseError on anything malformed."""
    end = len(fci)
    if end < 8:
        raise ParseError("transport-cc FCI shorter than its 8-byte header")
    base_seq, count, word = _HEAD.unpack_from(fci, 0)
    reference_time = word >> 8  # arithmetic shift: the 24-bit field is signed
    if count == 0:
        raise ParseError("transport-cc feedback reports no packet")
    symbols, pos = _read_chunks(fci, count)
    arrivals: list[tuple[int, int | None]] = []
    at = reference_time * REFERENCE_TICK_US
    for index, symbol in enumerate(symbols):
        seq = (base_seq + index) & 0xFFFF
        if symbol == _NOT_RECEIVED:
            arrivals.append((seq, None))
            continue
        if symbol == _SMALL_DELTA:
            if pos >= end:
                raise ParseError("transport-cc feedback ends inside its receive deltas")
            at += fci[pos] * DELTA_TICK_US
            pos += 1
        else:
            if pos + 2 > end:
                raise ParseError("transport-cc feedback ends inside its receive deltas")
            delta = (fci[pos] << 8) | fci[pos + 1]
            at += (delta - 0x10000 if delta & 0x8000 else delta) * DELTA_TICK_US
            pos += 2
        arrivals.append((seq, at))
    if end - pos > 3:
        raise ParseError(f"transport-cc feedback has {end - pos} bytes after its receive deltas (padding is 0-3)")
    return TwccFeedback(base_seq, reference_time, word & 0xFF, arrivals)


def _read_chunks(fci: BytesLike, count: int) -> tuple[list[int], int]:
    """The first ``count`` status symbols and where the deltas start; the last chunk may describe more symbols
    (padding), which are not statuses."""
    symbols: list[int] = []
    pos = 8
    end = len(fci)
    while len(symbols) < count:
        if pos + 2 > end:
            raise ParseError("transport-cc feedback ends inside its packet status chunks")
        chunk = (fci[pos] << 8) | fci[pos + 1]
        pos += 2
        left = count - len(symbols)
        if not chunk & 0x8000:
            symbol = (chunk >> 13) & 3
            run = chunk & _MAX_RUN
            if run == 0:
                raise ParseError("transport-cc run length chunk of length 0")
            if symbol == _RESERVED:
                raise ParseError("transport-cc status 3 (reserved in the draft)")
            symbols.extend([symbol] * min(run, left))
        elif not chunk & 0x4000:
            for shift in range(13, 13 - min(_ONE_BIT_SYMBOLS, left), -1):
                symbols.append((chunk >> shift) & 1)
        else:
            for shift in range(12, 12 - 2 * min(_TWO_BIT_SYMBOLS, left), -2):
                symbol = (chunk >> shift) & 3
                if symbol == _RESERVED:
                    raise ParseError("transport-cc status 3 (reserved in the draft)")
                symbols.append(symbol)
    return symbols, pos


def encode_feedback(base_seq: int, reference_time: int, feedback_count: int,
                    arrivals: list[tuple[int, int | None]]) -> bytes:
    """The FCI reporting ``arrivals`` (consecutive 16-bit seqs from ``base_seq``; microseconds or None), 32-bit padded.

    Times are in the same base as ``reference_time * 64000``; each is sent to the nearest 250 µs (the deltas are
    taken from the previous rounded time, so the error never accumulates). ValueError when a delta does not fit
    in 16 signed bits: the caller starts a new feedback packet there.
    """
    if not 0 <= base_seq <= 0xFFFF:
        raise ValueError(f"base sequence number {base_seq} out of range 0..65535")
    if not _REFERENCE_MIN <= reference_time <= _REFERENCE_MAX:
        raise ValueError(f"reference time {reference_time} does not fit in 24 signed bits")
    if not 0 <= feedback_count <= 0xFF:
        raise ValueError(f"feedback packet count {feedback_count} out of range 0..255")
    if not 1 <= len(arrivals) <= 0xFFFF:
        raise ValueError(f"a feedback packet reports 1..65535 packets, not {len(arrivals)}")
    symbols = bytearray()
    deltas = bytearray()
    at = reference_time * REFERENCE_TICK_US
    for index, (seq, arrival) in enumerate(arrivals):
        if seq != (base_seq + index) & 0xFFFF:
            raise ValueError(f"arrival {index} is seq {seq}, expected {(base_seq + index) & 0xFFFF}")
        if arrival is None:
            symbols.append(_NOT_RECEIVED)
            continue
        ticks = (arrival - at + DELTA_TICK_US // 2) // DELTA_TICK_US
        at += ticks * DELTA_TICK_US
        if 0 <= ticks <= 0xFF:
            symbols.append(_SMALL_DELTA)
            deltas.append(ticks)
        elif -0x8000 <= ticks <= 0x7FFF:
            symbols.append(_LARGE_DELTA)
            deltas += (ticks & 0xFFFF).to_bytes(2, "big")
        else:
            raise ValueError(f"receive delta of seq {seq} ({ticks * DELTA_TICK_US} µs) does not fit in 16 bits")
    head = _HEAD.pack(base_seq, len(arrivals), (reference_time << 8) | feedback_count)
    body = head + _chunks(symbols) + deltas
    return body + bytes(-len(body) % 4)


def _chunks(symbols: bytearray) -> bytes:
    """Packet status chunks for ``symbols``: a run where it covers at least as much as a vector would, else the
    1-bit vector of 14 when no large delta is among them, else the 2-bit vector of 7."""
    out = bytearray()
    total = len(symbols)
    i = 0
    while i < total:
        symbol = symbols[i]
        limit = min(total, i + _MAX_RUN)
        run = 1
        while i + run < limit and symbols[i + run] == symbol:
            run += 1
        window = symbols[i : i + _ONE_BIT_SYMBOLS]
        if run >= _ONE_BIT_SYMBOLS or i + run == total:
            out += _CHUNK.pack((symbol << 13) | run)
            i += run
        elif _LARGE_DELTA not in window:
            chunk = 0x8000
            for k, s in enumerate(window):  # a short last vector is padded with "not received": not statuses
                chunk |= s << (13 - k)
            out += _CHUNK.pack(chunk)
            i += _ONE_BIT_SYMBOLS
        elif run >= _TWO_BIT_SYMBOLS:
            out += _CHUNK.pack((symbol << 13) | run)
            i += run
        else:
            chunk = 0xC000
            for k, s in enumerate(symbols[i : i + _TWO_BIT_SYMBOLS]):
                chunk |= s << (12 - 2 * k)
            out += _CHUNK.pack(chunk)
            i += _TWO_BIT_SYMBOLS
    return bytes(out)
