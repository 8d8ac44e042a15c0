"""SrtpContext's lean calls into libsrtp produce what pylibsrtp's own Session methods produce, errors included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pylibsrtp import Policy

from mediaserver.transport.srtp import PROFILES, SrtpContext, SrtpError, SrtpProfile, _session

RTCP_SR = bytes.fromhex("80c80006" "0000abcd" "0000000100000002" "00000003" "00000004" "00000005")


def _rtp(seq: int, payload: bytes) -> bytes:
    return bytes([0x80, 96]) + seq.to_bytes(2, "big") + bytes.fromhex("000000640000abcd") + payload


def _keys(profile: SrtpProfile) -> tuple[bytes, bytes]:
    size = profile.key_length + profile.salt_length
    return bytes(range(size)), bytes(range(100, 100 + size))


@pytest.mark.parametrize("name", list(PROFILES))
def test_protect_matches_pylibsrtp_byte_for_byte_and_round_trips(name: bytes) -> None:
    profile = PROFILES[name]
    a_key, b_key = _keys(profile)
    sender = SrtpContext(profile, rx_key=b_key, tx_key=a_key)
    receiver = SrtpContext(profile, rx_key=a_key, tx_key=b_key)
    reference = _session(a_key, profile, Policy.SSRC_ANY_OUTBOUND)
    for seq in range(1, 40):
        packet = _rtp(seq, bytes([seq]) * (seq * 30))
        protected = sender.protect(packet)
        assert protected == reference.protect(packet)
        assert receiver.unprotect(protected) == packet
    rtcp = sender.protect_rtcp(RTCP_SR)
    assert rtcp == reference.protect_rtcp(RTCP_SR)
    assert receiver.unprotect_rtcp(rtcp) == RTCP_SR


def test_errors_are_srtp_errors_and_the_context_keeps_working() -> None:
    profile = PROFILES[b"SRTP_AEAD_AES_256_GCM"]
    a_key, b_key = _keys(profile)
    sender = SrtpContext(profile, rx_key=b_key, tx_key=a_key)
    receiver = SrtpContext(profile, rx_key=a_key, tx_key=b_key)
    with pytest.raises(SrtpError, match="too long"):
        sender.protect(_rtp(1, bytes(1400)))
    tampered = bytearray(sender.protect(_rtp(2, b"x" * 100)))
    tampered[-1] ^= 1
    with pytest.raises(SrtpError):
        receiver.unprotect(bytes(tampered))
    with pytest.raises(SrtpError):
        receiver.unprotect(b"\x80\x60\x00")  # shorter than a header
    assert receiver.unprotect(sender.protect(_rtp(3, b"ok"))) == _rtp(3, b"ok")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=1300), min_size=1, max_size=20))
def test_any_payload_that_fits_round_trips(payloads: list[bytes]) -> None:
    profile = PROFILES[b"SRTP_AES128_CM_SHA1_80"]
    a_key, b_key = _keys(profile)
    sender = SrtpContext(profile, rx_key=b_key, tx_key=a_key)
    receiver = SrtpContext(profile, rx_key=a_key, tx_key=b_key)
    for seq, payload in enumerate(payloads, start=1):
        packet = _rtp(seq, payload)
        assert receiver.unprotect(sender.protect(packet)) == packet
