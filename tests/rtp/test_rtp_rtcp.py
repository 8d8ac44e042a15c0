"""Tests for RTCP packet parsing/serialization, compound handling and NTP/RTT helpers."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.ntp import ntp_from_unix, ntp_to_unix
from mediaserver.rtp.rtcp import (
    Bye,
    Fir,
    Nack,
    Pli,
    ReceiverReport,
    Remb,
    ReportBlock,
    RtcpPacket,
    Sdes,
    SenderReport,
    TransportCC,
    UnknownRtcp,
    build_compound,
    ntp_middle32,
    ntp_now,
    parse_rtcp,
    rtcp_packet_types,
    rtt_from_report,
)
from mediaserver.rtp.rtcpfb import nack_pairs, remb_encode

RR = bytes.fromhex("81c9 0007 00000001 1234abcd 40ffffff 00011a2b 00000020 3e2d1c00 00010000")
REMB = bytes.fromhex("8fce 0005 00000001 00000000 52454d42 010bd090 1234abcd")
NACK = bytes.fromhex("81cd 0003 00000001 1234abcd 0064 0005")
PLI = bytes.fromhex("81ce 0002 00000001 1234abcd")
FIR = bytes.fromhex("84ce 0004 00000001 00000000 00000007 05000000")
SDES = bytes.fromhex("81ca 0004 00000001 0108 6162636465666768 0000")
BYE = bytes.fromhex("81cb 0003 00000001 04 62796521 000000")
TCC = bytes.fromhex("afcd 0005 00000001 1234abcd 0001 0002 2000 0101 0102 0002")
SR = bytes.fromhex("80c8 0006 00000001 e1234567 89abcdef 00001000 00000010 00000400")


def test_hand_vectors() -> None:
    block = ReportBlock(0x1234ABCD, 64, -1, 0x11A2B, 32, 0x3E2D1C00, 65536)
    assert parse_rtcp(RR) == [ReceiverReport(1, [block])]
    assert parse_rtcp(REMB) == [Remb(1, 1_000_000, [0x1234ABCD])]
    assert parse_rtcp(NACK) == [Nack(1, 0x1234ABCD, [100, 101, 103])]
    assert parse_rtcp(PLI) == [Pli(1, 0x1234ABCD)]
    assert parse_rtcp(FIR) == [Fir(1, [(7, 5)])]
    assert parse_rtcp(SDES) == [Sdes([(1, [(1, b"abcdefgh")])])]
    assert parse_rtcp(BYE) == [Bye([1], b"bye!")]
    assert parse_rtcp(TCC) == [TransportCC(1, 0x1234ABCD, bytes.fromhex("0001 0002 2000 0101 0102"))]
    assert parse_rtcp(SR) == [SenderReport(1, 0xE123456789ABCDEF, 0x1000, 0x10, 0x400, [])]


@pytest.mark.parametrize("wire", [RR, REMB, NACK, PLI, FIR, SDES, BYE, TCC, SR])
def test_hand_vectors_reserialize_identically(wire: bytes) -> None:
    (packet,) = parse_rtcp(wire)
    assert packet.serialize() == wire


def test_accepts_bytearray_and_memoryview() -> None:
    data = RR + REMB + TCC
    expected = parse_rtcp(data)
    assert parse_rtcp(bytearray(data)) == expected
    assert parse_rtcp(memoryview(b"xx" + data)[2:]) == expected


def test_compound_and_types() -> None:
    data = RR + REMB + SDES
    packets = parse_rtcp(data)
    assert [type(p) for p in packets] == [ReceiverReport, Remb, Sdes]
    assert build_compound(packets) == data
    assert rtcp_packet_types(data) == [(201, 1), (206, 15), (202, 1)]


def test_unknown_types_kept() -> None:
    app = bytes.fromhex("80cc 0002 00000001 6e616d65")
    other_afb = bytes.fromhex("8fce 0003 00000001 00000000 41424344")
    assert parse_rtcp(app) == [UnknownRtcp(204, 0, bytes.fromhex("00000001 6e616d65"))]
    assert parse_rtcp(other_afb) == [UnknownRtcp(206, 15, bytes.fromhex("00000001 00000000 41424344"))]
    assert UnknownRtcp(204, 3, b"abcdef").serialize() == bytes.fromhex("a3cc 0002 616263646566 0002")


def test_sr_profile_extension_ignored() -> None:
    data = bytes.fromhex("80c8 0007") + SR[4:] + b"\xaa\xbb\xcc\xdd"
    assert parse_rtcp(data) == parse_rtcp(SR)


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"\x81\xc9\x00",
        bytes.fromhex("41c9 0001 00000001"),  # version 1
        bytes.fromhex("80c9 0002 00000001"),  # length overruns
        RR[:-4],  # datagram shorter than length field
        RR + b"\x80\xc9",  # trailing partial header
        bytes.fromhex("81c9 0001 00000001"),  # RR claims a block it lacks
        bytes.fromhex("80c8 0001 00000001"),  # SR without sender info
        bytes.fromhex("a0c9 0001 00000000"),  # padding count 0
        bytes.fromhex("a0c9 0001 00000005"),  # padding count beyond body
        bytes.fromhex("81ca 0002 00000001 01020000"),  # SDES item never terminated
        bytes.fromhex("81ca 0002 00000001 010a0000"),  # SDES item overruns
        bytes.fromhex("81cb 0000"),  # BYE count 1 without SSRC
        bytes.fromhex("81cb 0002 00000001 09000000"),  # BYE reason overruns
        bytes.fromhex("a1cd 0003 00000001 00000002 0001 0002"),  # NACK FCI cut by padding
        bytes.fromhex("84ce 0003 00000001 00000000 00000007"),  # FIR half entry
        bytes.fromhex("8fce 0004 00000001 00000000 52454d42 020bd090"),  # REMB SSRC list short
        bytes.fromhex("81ce 0001 00000001"),  # PLI without media SSRC
    ],
)
def test_malformed_raises_parse_error(wire: bytes) -> None:
    with pytest.raises(ParseError):
        parse_rtcp(wire)


def test_nack_packing() -> None:
    assert nack_pairs([103, 100, 101, 100]) == [(100, 0b101)]
    assert nack_pairs([1, 17, 18]) == [(1, 1 << 15), (18, 0)]
    # Across the wrap the burst stays one pair, starting at the oldest sequence number.
    assert nack_pairs([65534, 65535, 0, 3]) == [(65534, 0b10011)]
    assert nack_pairs([]) == []
    assert parse_rtcp(Nack(1, 2, [0, 65535]).serialize()) == [Nack(1, 2, [0, 65535])]


def test_remb_encoding() -> None:
    assert remb_encode(1_000_000) == (250_000, 2)
    assert remb_encode(262143) == (262143, 0)
    assert remb_encode(262144) == (131072, 1)
    assert remb_encode(2**200) == (262143, 63)
    assert parse_rtcp(Remb(1, 1_000_001, []).serialize())[0] == Remb(1, 1_000_000, [])
    with pytest.raises(ValueError):
        Remb(1, -1, []).serialize()


@pytest.mark.parametrize(
    "packet",
    [
        ReceiverReport(1, [ReportBlock()] * 32),
        ReceiverReport(1, [ReportBlock(packets_lost=2**23)]),
        ReceiverReport(1, [ReportBlock(fraction_lost=256)]),
        Sdes([(1, [(0, b"x")])]),
        Sdes([(1, [(1, bytes(256))])]),
        Bye([1], bytes(256)),
        Remb(1, 5, list(range(256))),
        UnknownRtcp(204, 32, b""),
    ],
)
def test_unrepresentable_raise_value_error(packet: RtcpPacket) -> None:
    with pytest.raises(ValueError):
        packet.serialize()


def test_ntp_helpers() -> None:
    assert ntp_from_unix(0.0) == 2_208_988_800 << 32
    assert ntp_from_unix(1.5) == ((2_208_988_801 << 32) | 0x80000000)
    assert ntp_to_unix(ntp_from_unix(1_700_000_000.25)) == 1_700_000_000.25
    assert ntp_middle32(0x1122334455667788) == 0x33445566
    assert abs(ntp_to_unix(ntp_now()) - time.time()) < 1.0


def test_rtt_from_report() -> None:
    sent = ntp_from_unix(1_700_000_000.0)
    block = ReportBlock(lsr=ntp_middle32(sent), dlsr=int(0.5 * 65536))
    rtt = rtt_from_report(block, ntp_from_unix(1_700_000_000.6))
    assert rtt is not None and abs(rtt - 0.1) < 2 / 65536
    assert rtt_from_report(ReportBlock(lsr=0, dlsr=5), sent) is None
    assert rtt_from_report(ReportBlock(lsr=ntp_middle32(sent), dlsr=65536), sent) == 0.0


u32 = st.integers(0, 2**32 - 1)
blocks = st.builds(
    ReportBlock,
    u32,
    st.integers(0, 255),
    st.integers(-(2**23), 2**23 - 1),
    u32,
    u32,
    u32,
    u32,
)
reports = st.builds(ReceiverReport, u32, st.lists(blocks, max_size=5)) | st.builds(
    SenderReport, u32, st.integers(0, 2**64 - 1), u32, u32, u32, st.lists(blocks, max_size=5)
)
sdes = st.builds(
    Sdes,
    st.lists(
        st.tuples(u32, st.lists(st.tuples(st.integers(1, 255), st.binary(max_size=20)), max_size=4)),
        max_size=4,
    ),
)
byes = st.builds(Bye, st.lists(u32, max_size=31), st.none() | st.binary(max_size=255))
nacks = st.builds(
    Nack, u32, u32, st.lists(st.integers(0, 0xFFFF), max_size=40, unique=True).map(sorted)
)
feedback = (
    st.builds(Pli, u32, u32)
    | st.builds(Fir, u32, st.lists(st.tuples(u32, st.integers(0, 255)), max_size=5))
    | st.builds(TransportCC, u32, u32, st.binary(max_size=60))
    | st.builds(
        Remb,
        u32,
        st.integers(0, 2**18 - 1).flatmap(lambda m: st.integers(0, 63).map(lambda e: m << e)),
        st.lists(u32, max_size=8),
    )
)
unknown = st.builds(
    UnknownRtcp,
    st.integers(0, 255).filter(lambda pt: pt not in (200, 201, 202, 203, 205, 206)),
    st.integers(0, 31),
    st.binary(max_size=40),
) | st.builds(
    UnknownRtcp,
    st.sampled_from([205, 206]),
    st.integers(2, 14).filter(lambda f: f != 4),
    st.binary(max_size=40),
)
any_packet = reports | sdes | byes | nacks | feedback | unknown


@settings(max_examples=400, deadline=None)
@given(any_packet)
def test_single_packet_round_trip(packet: RtcpPacket) -> None:
    wire = packet.serialize()
    assert len(wire) % 4 == 0
    assert parse_rtcp(wire) == [packet]
    assert parse_rtcp(wire)[0].serialize() == wire


@settings(max_examples=150, deadline=None)
@given(st.lists(any_packet, min_size=1, max_size=6))
def test_compound_round_trip(packets: list[RtcpPacket]) -> None:
    wire = build_compound(packets)
    assert parse_rtcp(wire) == packets
    assert len(rtcp_packet_types(wire)) == len(packets)


@given(u32, st.integers(0, 2**90))
def test_remb_bitrate_truncates_to_representable(ssrc: int, bitrate: int) -> None:
    (parsed,) = parse_rtcp(Remb(ssrc, bitrate, [ssrc]).serialize())
    assert isinstance(parsed, Remb)
    assert parsed.bitrate <= bitrate
    mantissa, exp = remb_encode(bitrate)
    assert parsed.bitrate == mantissa << exp
    if exp < 63:
        assert bitrate - parsed.bitrate < (1 << exp)
    assert parse_rtcp(parsed.serialize()) == [parsed]


@given(u32, u32, st.lists(st.integers(0, 0xFFFF), max_size=60))
def test_nack_unordered_input_round_trip(sender: int, media: int, lost: list[int]) -> None:
    (parsed,) = parse_rtcp(Nack(sender, media, lost).serialize())
    assert parsed == Nack(sender, media, sorted(set(lost)))
