"""H.264 payloads (RFC 6184, packetization-mode 1): keyframe starts, and any NAL split round-trips."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.h264 import NAL_IDR, NAL_PPS, NAL_SPS, H264Depacketizer, packetize, parse_h264

SPS = bytes([0x67, 0x42, 0xE0, 0x1F, 0xDA])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(range(200)) * 10
P_SLICE = bytes([0x41]) + bytes(300)


def test_a_keyframe_starts_at_its_sps_and_at_its_idrs_first_fragment() -> None:
    payloads = packetize([SPS, PPS, IDR], mtu=1200)
    first = parse_h264(payloads[0])
    assert first.nal_types == (NAL_SPS, NAL_PPS, NAL_IDR)[: len(first.nal_types)] and first.keyframe
    fragments = [parse_h264(p) for p in packetize([IDR], mtu=500)]
    assert [f.fragment_start for f in fragments] == [True] + [False] * (len(fragments) - 1)
    assert [f.fragment_end for f in fragments] == [False] * (len(fragments) - 1) + [True]
    assert [f.keyframe for f in fragments] == [True] + [False] * (len(fragments) - 1)
    assert not any(parse_h264(p).keyframe for p in packetize([P_SLICE], mtu=100))


@pytest.mark.parametrize(("payload", "reason"), [
    (b"", "empty"),
    (bytes([0x80 | 5]), "forbidden"),
    (bytes([25, 0, 1, 0x65]), "not allowed"),  # STAP-B: interleaved mode only
    (bytes([29, 0x85, 1]), "not allowed"),  # FU-B
    (bytes([0]), "not allowed"),
    (bytes([24, 0]), "truncated"),
    (bytes([24, 0, 9, 0x65]), "does not fit"),
    (bytes([24]), "without NAL units"),
    (bytes([28, 0x85]), "without a fragment"),
    (bytes([28, 0xC5, 1]), "both start and end"),
    (bytes([28, 0x98, 1]), "fragmenting NAL type 24"),
])
def test_malformed_payloads_are_parse_errors(payload: bytes, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_h264(payload)


def test_a_fragment_run_missing_its_start_is_refused_and_the_next_unit_still_comes_out() -> None:
    fragments = packetize([IDR], mtu=300)
    depacketizer = H264Depacketizer()
    with pytest.raises(ParseError, match="without its start"):
        depacketizer.push(fragments[1])
    assert depacketizer.push(P_SLICE) == [P_SLICE]


nal_units = st.builds(
    lambda nri, kind, body: bytes([(nri << 5) | kind]) + body,
    st.integers(0, 3), st.integers(1, 23), st.binary(min_size=0, max_size=3000),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(nal_units, min_size=1, max_size=12), st.integers(3, 1400))
def test_any_nal_units_split_any_way_come_back_whole(units: list[bytes], mtu: int) -> None:
    payloads = packetize(units, mtu)
    assert all(len(p) <= mtu for p in payloads)
    depacketizer = H264Depacketizer()
    out = [unit for payload in payloads for unit in depacketizer.push(payload)]
    assert out == units
    keyframe_units = {NAL_SPS, NAL_IDR}
    flagged = any(parse_h264(p).keyframe for p in payloads)
    assert flagged == any(u[0] & 0x1F in keyframe_units for u in units)


@settings(max_examples=2000, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_give_a_result_or_a_parse_error_never_another_exception(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_h264(data)
    with contextlib.suppress(ParseError):
        H264Depacketizer().push(data)
