"""H.264 picture sizes read from real encoders' sequence parameter sets (libx264 through PyAV), and garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.errors import ParseError
from mediaserver.rtp.h264 import find_sps, packetize, parse_h264
from mediaserver.rtp.h264_sps import sps_size, unescape_rbsp

from .h264_samples import encode_h264


def encoded_nal_units(width: int, height: int, profile: str) -> list[bytes]:
    return encode_h264(width, height, 1, profile)[0]


@pytest.mark.parametrize(("width", "height"), [(320, 180), (640, 360), (1280, 720), (1920, 1080), (176, 144),
                                               (642, 362)])
@pytest.mark.parametrize("profile", ["baseline", "high"])
def test_the_size_libx264_encoded_is_read_back(width: int, height: int, profile: str) -> None:
    units = encoded_nal_units(width, height, profile)
    sps = next(u for u in units if u[0] & 0x1F == 7)
    assert sps_size(sps) == (width, height)
    # As Chrome sends a keyframe: SPS and PPS aggregated in one STAP-A, found there by the forwarder.
    first = packetize(units, mtu=1200)[0]
    assert parse_h264(first).keyframe and find_sps(first) == sps


def test_emulation_prevention_bytes_are_removed() -> None:
    assert unescape_rbsp(bytes([0, 0, 3, 1, 0, 0, 3, 0, 0, 0, 3])) == bytes([0, 0, 1, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("nal", [b"", bytes([0x68, 0xCE]), bytes([0x67, 0x42]), bytes([0x67]) + bytes(40)])
def test_what_is_no_readable_sps_is_a_parse_error(nal: bytes) -> None:
    with pytest.raises(ParseError):
        sps_size(nal)


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=48))
def test_random_sps_bodies_give_a_size_or_a_parse_error(body: bytes) -> None:
    with contextlib.suppress(ParseError):
        width, height = sps_size(bytes([0x67]) + body)
        assert 0 < width <= 16384 and 0 < height <= 16384
