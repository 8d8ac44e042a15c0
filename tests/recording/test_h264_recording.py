"""H.264 recording: RTP from libx264 reassembled into access units and muxed to Matroska, decodable as recorded."""

from __future__ import annotations

import struct
from pathlib import Path

import av
from hypothesis import given
from hypothesis import strategies as st

from mediaserver.recording.depacketizer import START_CODE, H264FrameDepacketizer
from mediaserver.recording.worker import Worker
from mediaserver.rtp.h264 import packetize

from ..rtp.h264_samples import encode_h264

FRAMES = encode_h264(320, 180, frames=30, gop=10)


def rtp_stream(frames: list[list[bytes]], mtu: int = 300) -> list[list[bytes]]:
    """Each frame's RTP packets (PT 102, the marker on its last), numbered on from a wrap-around start."""
    seq, out = 65_530, []
    for index, units in enumerate(frames):
        payloads = packetize(units, mtu)
        packets = []
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == len(payloads) - 1 else 0
            packets.append(struct.pack("!BBHII", 0x80, marker | 102, seq & 0xFFFF, 3000 * index, 7) + payload)
            seq += 1
        out.append(packets)
    return out


def test_access_units_come_back_in_annex_b_with_the_first_keyframes_parameter_sets() -> None:
    depacketizer = H264FrameDepacketizer()
    frames = [f for packets in rtp_stream(FRAMES) for p in packets if (f := depacketizer.push(p)) is not None]
    assert [f.data for f in frames] == [b"".join(START_CODE + nal for nal in units) for units in FRAMES]
    assert [f.keyframe for f in frames] == [i % 10 == 0 for i in range(30)]
    assert [f.timestamp for f in frames] == [3000 * i for i in range(30)]
    assert depacketizer.size == (320, 180) and depacketizer.parameter_sets.count(START_CODE) == 2


def test_a_lost_packet_drops_frames_until_the_next_idr() -> None:
    depacketizer = H264FrameDepacketizer()
    stream = rtp_stream(FRAMES, mtu=200)
    lossy = 3 if len(stream[3]) > 1 else next(i for i in range(1, 10) if len(stream[i]) > 1)
    out = []
    for index, packets in enumerate(stream):
        for position, packet in enumerate(packets):
            if index == lossy and position == 0:
                continue  # the frame's first packet is lost
            if (frame := depacketizer.push(packet)) is not None:
                out.append(frame.timestamp // 3000)
    assert out == [i for i in range(30) if i < lossy or i >= 10]
    assert depacketizer.frames_dropped == 10 - lossy


def test_an_h264_participant_is_recorded_to_matroska_and_decodes(tmp_path: Path) -> None:
    worker = Worker(tmp_path, "room")
    worker.on_track({"index": 0, "track_id": "video-1", "participant_id": "alice", "name": "Alice", "kind": "video",
                     "clock_rate": 90000, "codec": "H264"})
    for packets in rtp_stream(FRAMES):
        for packet in packets:
            worker.on_rtp(0, 0.0, packet)
    manifest = worker.finish()
    [alice] = manifest["participants"]
    assert alice["file"] == "alice.mkv" and alice["tracks"][0]["frames"] == 30
    with av.open(str(tmp_path / "alice.mkv")) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        sizes = [(frame.width, frame.height) for frame in container.decode(stream)]
    assert sizes == [(320, 180)] * 30


@given(st.lists(st.tuples(st.integers(0, 3), st.booleans(), st.binary(max_size=40)), max_size=30))
def test_broken_payloads_never_raise(packets: list[tuple[int, bool, bytes]]) -> None:
    """Garbage behind valid RTP headers reaches the H.264 parser: it is dropped, never raised."""
    depacketizer = H264FrameDepacketizer()
    for seq, (frame, marker, payload) in enumerate(packets):
        header = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | 102, seq, 3000 * frame, 7)
        frame_out = depacketizer.push(header + payload)
        assert frame_out is None or frame_out.data.startswith(START_CODE)
    depacketizer.push(b"\x80")  # not even an RTP header
