"""Transport-wide congestion control feedback: the draft's examples, round trips, chunk choice and malformed input."""

import contextlib
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.rtcp import TransportCC, parse_rtcp
from mediaserver.rtp.twcc import TwccFeedback, decode_feedback, encode_feedback

REF_US = 64_000
TICK = 250


def fci(base: int, count: int, ref: int, fb: int, chunks: list[int], deltas: bytes = b"") -> bytes:
    body = struct.pack("!HH", base, count) + (ref & 0xFFFFFF).to_bytes(3, "big") + bytes([fb])
    body += b"".join(struct.pack("!H", c) for c in chunks) + deltas
    return body + bytes(-len(body) % 4)


def chunks_of(encoded: bytes, count: int) -> list[int]:
    """The status chunks of an FCI we encoded, read back up to `count` statuses."""
    out, covered, pos = [], 0, 8
    while covered < count:
        (chunk,) = struct.unpack_from("!H", encoded, pos)
        out.append(chunk)
        pos += 2
        covered += chunk & 0x1FFF if not chunk & 0x8000 else (7 if chunk & 0x4000 else 14)
    return out


# --- the draft's examples (section 3.1.3 run length chunk, 3.1.4 status vector chunk) ----------------------


def test_run_length_example_221_not_received() -> None:
    # |0|0 0|0 0 0 0 0 1 1 0 1 1 1 0 1|: a run of 221 "packet not received".
    assert 0b0_00_0000011011101 == 0x00DD
    feedback = decode_feedback(fci(100, 221, 5, 9, [0x00DD]))
    assert feedback == TwccFeedback(100, 5, 9, [(100 + i, None) for i in range(221)])


def test_run_length_example_of_status_3_is_refused() -> None:
    # |0|1 1|0 0 0 0 0 0 0 1 1 0 0 0|: a run of 24 "received without delta", a status the draft reserves.
    with pytest.raises(ParseError, match="status 3"):
        decode_feedback(fci(0, 24, 0, 0, [0b0_11_0000000011000]))


def test_one_bit_status_vector_example() -> None:
    # |1|0|0 1 1 1 1 1 0 0 0 1 1 1 0 0|: 1 not received, 5 received, 3 not, 3 received, 2 not.
    chunk = 0b1001111100011100
    deltas = bytes([4, 0, 255, 1, 2, 3, 4, 5])  # one small delta per received packet
    feedback = decode_feedback(fci(65530, 14, -2, 255, [chunk], deltas))
    received = [False, True, True, True, True, True, False, False, False, True, True, True, False, False]
    at = -2 * REF_US
    expected: list[tuple[int, int | None]] = []
    steps = iter(deltas)
    for i, got in enumerate(received):
        if got:
            at += next(steps) * TICK
        expected.append(((65530 + i) & 0xFFFF, at if got else None))
    assert feedback == TwccFeedback(65530, -2, 255, expected)
    assert [s for s, _ in feedback.arrivals][5:7] == [65535, 0]  # wraps


def test_two_bit_status_vector_example_with_status_3_is_refused() -> None:
    # |1|1|0 0 1 1 0 1 0 1 0 1 0 0 0 0|: not received, received w/o timestamp (3), 3 received, 2 not.
    with pytest.raises(ParseError, match="status 3"):
        decode_feedback(fci(0, 7, 0, 0, [0b1100110101010000], bytes(3)))


def test_two_bit_status_vector_with_a_large_negative_delta() -> None:
    # The example with its reserved symbol replaced by "large or negative delta": 00 10 01 01 01 00 00.
    deltas = struct.pack("!h", -40) + bytes([8, 8, 8])
    feedback = decode_feedback(fci(7, 7, 1, 0, [0b1100100101010000], deltas))
    t = REF_US - 40 * TICK
    assert feedback.arrivals == [(7, None), (8, t), (9, t + 2000), (10, t + 4000), (11, t + 6000),
                                 (12, None), (13, None)]


def test_a_vectors_padding_symbols_beyond_the_count_are_not_statuses() -> None:
    # Three statuses in a 2-bit vector whose unused symbols are 3 (reserved): only the first three count.
    assert decode_feedback(fci(0, 3, 0, 0, [0b1101010100111111], bytes(3))).arrivals == [(0, 0), (1, 0), (2, 0)]


def test_a_run_longer_than_the_count_reports_only_the_count() -> None:
    assert decode_feedback(fci(0, 3, 0, 0, [0x2000 | 100], bytes([1, 1, 1]))).arrivals == [
        (0, 250), (1, 500), (2, 750)]


def test_parsed_from_a_compound_rtcp_packet() -> None:
    wire = TransportCC(1, 0x1234ABCD, encode_feedback(10, 3, 4, [(10, 3 * REF_US), (11, None)])).serialize()
    (packet,) = parse_rtcp(wire)
    assert isinstance(packet, TransportCC)
    assert packet.decode() == TwccFeedback(10, 3, 4, [(10, 3 * REF_US), (11, None)])


# --- the encoder's chunk choice -------------------------------------------------------------------------


def test_long_equal_runs_are_run_length_chunks() -> None:
    arrivals: list[tuple[int, int | None]] = [(i, i * TICK) for i in range(1000)]
    arrivals += [(1000 + i, None) for i in range(300)]
    encoded = encode_feedback(0, 0, 0, arrivals)
    assert chunks_of(encoded, 1300) == [0x2000 | 1000, 300]
    # 8 header bytes, 2 chunks, one byte per received packet (all deltas small), padding.
    assert len(encoded) == 8 + 4 + 1000 + 0
    assert decode_feedback(encoded).arrivals == arrivals


def test_mixed_small_deltas_are_one_bit_vectors_of_14() -> None:
    arrivals = [(i, None if i % 3 == 0 else i * 1000) for i in range(28)]
    encoded = encode_feedback(0, 0, 0, arrivals)
    chunks = chunks_of(encoded, 28)
    assert len(chunks) == 2 and all(c & 0xC000 == 0x8000 for c in chunks)
    assert decode_feedback(encoded).arrivals == arrivals


def test_a_large_delta_takes_a_two_bit_vector() -> None:
    # A 100-ms jump does not fit one byte of 250 µs: the large symbol needs the 2-bit vector.
    arrivals = [(0, 0), (1, None), (2, 1000), (3, 101_000), (4, None), (5, 102_000), (6, 90_000), (7, 91_000)]
    encoded = encode_feedback(0, 0, 0, arrivals)
    chunks = chunks_of(encoded, 8)
    assert chunks[0] & 0xC000 == 0xC000
    assert decode_feedback(encoded).arrivals == arrivals


def test_a_delta_beyond_16_bits_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        encode_feedback(0, 0, 0, [(0, 0), (1, 9_000_000)])
    with pytest.raises(ValueError, match="expected 1"):
        encode_feedback(0, 0, 0, [(0, 0), (2, 100)])
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        encode_feedback(0, 0, 0, [])
    with pytest.raises(ValueError, match="24 signed bits"):
        encode_feedback(0, 1 << 23, 0, [(0, None)])


def test_times_are_sent_to_the_nearest_quarter_millisecond_without_drift() -> None:
    arrivals: list[tuple[int, int | None]] = [(i, 1_000_000 + i * 333) for i in range(500)]
    decoded = [at for _, at in decode_feedback(encode_feedback(0, 15, 0, arrivals)).arrivals]
    sent = [at for _, at in arrivals]
    assert None not in decoded
    assert max(abs(a - b) for a, b in zip(decoded, sent, strict=True) if a is not None and b is not None) <= TICK // 2


# --- properties -----------------------------------------------------------------------------------------

# A status as ticks from the previous received packet (None: lost), mostly small as in a real stream.
statuses = st.lists(
    st.one_of(st.none(), st.integers(0, 255), st.integers(-0x8000, 0x7FFF)), min_size=1, max_size=600
)


@settings(max_examples=300, deadline=None)
@given(base=st.integers(0, 0xFFFF), ref=st.integers(-(1 << 23), (1 << 23) - 1), fb=st.integers(0, 255),
       steps=statuses)
def test_round_trip_on_the_tick_grid(base: int, ref: int, fb: int, steps: list[int | None]) -> None:
    at = ref * REF_US
    arrivals: list[tuple[int, int | None]] = []
    for i, step in enumerate(steps):
        if step is not None:
            at += step * TICK
        arrivals.append(((base + i) & 0xFFFF, None if step is None else at))
    encoded = encode_feedback(base, ref, fb, arrivals)
    assert len(encoded) % 4 == 0
    assert decode_feedback(encoded) == TwccFeedback(base, ref, fb, arrivals)


@settings(max_examples=200, deadline=None)
@given(base=st.integers(0, 0xFFFF), ref=st.integers(-1000, 1000),
       gaps=st.lists(st.one_of(st.none(), st.integers(0, 2_000_000)), min_size=1, max_size=300))
def test_round_trip_of_any_microseconds_within_half_a_tick(base: int, ref: int, gaps: list[int | None]) -> None:
    at = ref * REF_US
    arrivals: list[tuple[int, int | None]] = []
    for i, gap in enumerate(gaps):
        if gap is not None:
            at += gap
        arrivals.append(((base + i) & 0xFFFF, None if gap is None else at))
    decoded = decode_feedback(encode_feedback(base, ref, 0, arrivals)).arrivals
    assert [s for s, _ in decoded] == [s for s, _ in arrivals]
    for (_, got), (_, sent) in zip(decoded, arrivals, strict=True):
        assert (got is None) == (sent is None)
        if got is not None and sent is not None:
            assert abs(got - sent) <= TICK // 2


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_parse_error(data: bytes) -> None:
    try:
        feedback = decode_feedback(data)
    except ParseError:
        return
    assert 1 <= len(feedback.arrivals) <= 0xFFFF


@settings(max_examples=200, deadline=None)
@given(base=st.integers(0, 0xFFFF), steps=statuses, data=st.data())
def test_truncated_or_corrupted_feedback_only_raises_parse_error(base: int, steps: list[int | None],
                                                                 data: st.DataObject) -> None:
    at = 0
    arrivals: list[tuple[int, int | None]] = []
    for i, step in enumerate(steps):
        at += step * TICK if step is not None else 0
        arrivals.append(((base + i) & 0xFFFF, None if step is None else at))
    encoded = bytearray(encode_feedback(base, 0, 0, arrivals))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with contextlib.suppress(ParseError):
        decode_feedback(bytes(encoded[:cut]))
    index = data.draw(st.integers(0, len(encoded) - 1))
    encoded[index] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(ParseError):
        decode_feedback(bytes(encoded))


def test_every_cut_inside_the_chunks_or_deltas_is_a_parse_error() -> None:
    arrivals = [(i, None if i % 5 == 0 else i * 750) for i in range(40)]
    encoded = encode_feedback(0, 0, 0, arrivals)
    received = sum(1 for _, at in arrivals if at is not None)
    unpadded = 8 + 2 * len(chunks_of(encoded, 40)) + received  # every delta is small: one byte each
    for cut in range(unpadded):
        with pytest.raises(ParseError):
            decode_feedback(encoded[:cut])
    assert decode_feedback(encoded).arrivals == arrivals
    assert decode_feedback(encoded[:unpadded] + bytes(3)).arrivals == arrivals  # up to 3 bytes of padding
    with pytest.raises(ParseError, match="after its receive deltas"):
        decode_feedback(encoded[:unpadded] + bytes(4))


def test_an_empty_report_and_a_zero_run_are_refused() -> None:
    with pytest.raises(ParseError, match="no packet"):
        decode_feedback(fci(0, 0, 0, 0, []))
    with pytest.raises(ParseError, match="length 0"):
        decode_feedback(fci(0, 5, 0, 0, [0x2000]))
