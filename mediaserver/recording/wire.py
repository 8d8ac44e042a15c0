"""The pipe format between the media server's recorder and its worker: typed, length-prefixed records."""

from __future__ import annotations

import struct
from typing import Any, BinaryIO

import msgpack

TRACK = 1  # msgpack map: index, track_id, participant_id, name, kind, clock_rate
RTP = 2  # u16 track index, f64 arrival (monotonic seconds), RTP packet (plain, rewritten by the tap)
STOP = 3  # no body: finish the files and write the manifest

_RECORD = struct.Struct("!IB")
_RTP_HEAD = struct.Struct("!Hd")


def track_record(info: dict[str, Any]) -> bytes:
    body = msgpack.packb(info, use_bin_type=True)
    return _RECORD.pack(len(body), TRACK) + body


def rtp_record(index: int, arrival: float, packet: bytes) -> bytes:
    return _RECORD.pack(_RTP_HEAD.size + len(packet), RTP) + _RTP_HEAD.pack(index, arrival) + packet


def stop_record() -> bytes:
    return _RECORD.pack(0, STOP)


def read_record(stream: BinaryIO) -> tuple[int, bytes] | None:
    """One record from a blocking binary stream; None at end of stream."""
    head = stream.read(_RECORD.size)
    if len(head) < _RECORD.size:
        return None
    length, kind = _RECORD.unpack(head)
    body = stream.read(length)
    if len(body) < length:
        return None
    return kind, body


def decode_track(body: bytes) -> dict[str, Any]:
    info = msgpack.unpackb(body, raw=False)
    if not isinstance(info, dict):
        raise ValueError("track record is not a map")
    return info


def decode_rtp(body: bytes) -> tuple[int, float, bytes]:
    index, arrival = _RTP_HEAD.unpack_from(body)
    return index, arrival, body[_RTP_HEAD.size :]
