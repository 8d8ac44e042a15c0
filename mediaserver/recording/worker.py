"""Recording worker process: reads the recorder's pipe, muxes each participant to one file, no transcoding.

VP8 and Opus go to WebM; a participant whose video is H.264 (which WebM does not allow) gets Matroska (.mkv).
It runs apart from the media server so that the forwarding process never loads a codec library; av is used
here only to mux packets.
"""

from __future__ import annotations

import argparse
import fractions
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from . import wire
from .depacketizer import Frame, H264FrameDepacketizer, OpusDepacketizer, Vp8Depacketizer

Depacketizer = OpusDepacketizer | Vp8Depacketizer | H264FrameDepacketizer

# Wait this long for a participant's second track before the file header (and so its streams) is fixed.
OPEN_AFTER_S = 2.0
MAX_PENDING = 2000


@dataclass
class Track:
    index: int
    track_id: str
    participant_id: str
    name: str
    kind: str
    clock_rate: int
    depacketizer: Depacketizer
    codec: str = ""
    first_ts: int | None = None
    first_arrival: float = 0.0
    frames: int = 0
    width: int = 0
    height: int = 0


@dataclass
class ParticipantFile:
    participant_id: str
    name: str
    path: Path  # without its suffix until open() knows the codecs
    created: float
    tracks: list[Track] = field(default_factory=list)
    pending: list[tuple[Track, float, Frame]] = field(default_factory=list)
    container: Any = None
    streams: dict[int, Any] = field(default_factory=dict)
    start_arrival: float = 0.0
    ignored_tracks: int = 0

    def ready(self, now: float) -> bool:
        kinds = {t.kind for t in self.tracks if t.first_ts is not None}
        return kinds >= {"audio", "video"} or (bool(kinds) and now - self.created >= OPEN_AFTER_S)

    def open(self) -> None:
        started = [t for t in self.tracks if t.first_ts is not None]
        h264 = any(t.codec == "H264" for t in started)
        self.path = self.path.with_suffix(".mkv" if h264 else ".webm")
        self.container = av.open(str(self.path), "w", format="matroska" if h264 else "webm")
        self.start_arrival = min(t.first_arrival for t in started)
        for track in started:
            if track.kind == "video":
                stream = self.container.add_stream("h264" if track.codec == "H264" else "libvpx", rate=30)
                stream.width, stream.height = track.width or 640, track.height or 360
                stream.pix_fmt = "yuv420p"
                if isinstance(track.depacketizer, H264FrameDepacketizer):
                    # SPS and PPS: the muxer turns them into the track's avcC and the frames into its NAL units.
                    stream.codec_context.extradata = track.depacketizer.parameter_sets
            else:
                stream = self.container.add_stream("libopus", rate=48000)
            stream.time_base = fractions.Fraction(1, track.clock_rate)
            self.streams[track.index] = stream
        pending, self.pending = self.pending, []
        for track, arrival, frame in pending:
            self.write(track, arrival, frame)

    def write(self, track: Track, arrival: float, frame: Frame) -> None:
        stream = self.streams.get(track.index)
        if stream is None:
            self.ignored_tracks += 1  # began after the header was written: Matroska cannot add streams later
            return
        assert track.first_ts is not None
        # Tracks start at different times: place each on the file's clock by its first packet's arrival.
        offset = int((track.first_arrival - self.start_arrival) * track.clock_rate)
        packet = av.Packet(frame.data)
        packet.stream = stream
        # In the track's RTP clock; mux() rescales to the container's own time base (1 ms for WebM).
        packet.time_base = fractions.Fraction(1, track.clock_rate)
        packet.pts = packet.dts = frame.timestamp - track.first_ts + offset
        packet.is_keyframe = frame.keyframe
        self.container.mux(packet)
        track.frames += 1

    def close(self) -> None:
        if self.container is not None:
            self.container.close()


class Worker:
    def __init__(self, directory: Path, room_id: str) -> None:
        self.directory = directory
        self.room_id = room_id
        self.tracks: dict[int, Track] = {}
        self.files: dict[str, ParticipantFile] = {}
        self.started_at = time.time()

    def on_track(self, info: dict[str, Any]) -> None:
        kind, codec = str(info["kind"]), str(info.get("codec", ""))
        depacketizer: Depacketizer = OpusDepacketizer()
        if kind == "video":
            depacketizer = H264FrameDepacketizer() if codec == "H264" else Vp8Depacketizer()
        track = Track(int(info["index"]), str(info["track_id"]), str(info["participant_id"]), str(info["name"]),
                      kind, int(info["clock_rate"]), depacketizer, codec)
        self.tracks[track.index] = track
        pfile = self.files.get(track.participant_id)
        if pfile is None:
            safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in track.participant_id)
            pfile = self.files[track.participant_id] = ParticipantFile(
                track.participant_id, track.name, self.directory / safe, time.monotonic())
        pfile.tracks.append(track)

    def on_rtp(self, index: int, arrival: float, packet: bytes) -> None:
        track = self.tracks.get(index)
        if track is None:
            return
        frame = track.depacketizer.push(packet)
        if frame is None:
            return
        if track.first_ts is None:
            track.first_ts, track.first_arrival = frame.timestamp, arrival
        if track.kind == "video" and frame.keyframe and not track.width:
            depacketizer = track.depacketizer
            size = depacketizer.size if isinstance(depacketizer, H264FrameDepacketizer) else _vp8_size(frame.data)
            track.width, track.height = size
        pfile = self.files[track.participant_id]
        if pfile.container is None:
            if len(pfile.pending) < MAX_PENDING:
                pfile.pending.append((track, arrival, frame))
            if pfile.ready(time.monotonic()):
                pfile.open()
            return
        pfile.write(track, arrival, frame)

    def finish(self) -> dict[str, Any]:
        now = time.monotonic()
        for pfile in self.files.values():
            if pfile.container is None and pfile.pending and pfile.ready(now + OPEN_AFTER_S):
                pfile.open()
            pfile.close()
        manifest = {
            "room_id": self.room_id,
            "started_at": self.started_at,
            "stopped_at": time.time(),
            "participants": [
                {"participant_id": f.participant_id, "name": f.name,
                 "file": f.path.name if f.container is not None else None,
                 "tracks": [{"track_id": t.track_id, "kind": t.kind, "frames": t.frames,
                             "frames_dropped": getattr(t.depacketizer, "frames_dropped", 0)} for t in f.tracks],
                 "ignored_late_tracks": f.ignored_tracks}
                for f in self.files.values()
            ],
        }
        (self.directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
        return manifest


def _vp8_size(frame: bytes) -> tuple[int, int]:
    if len(frame) >= 10 and frame[3:6] == b"\x9d\x01\x2a":
        return (frame[6] | frame[7] << 8) & 0x3FFF, (frame[8] | frame[9] << 8) & 0x3FFF
    return 0, 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mediaserver.recording.worker")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--room", required=True)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    worker = Worker(args.dir, args.room)
    stream = sys.stdin.buffer
    while (record := wire.read_record(stream)) is not None:
        kind, body = record
        if kind == wire.TRACK:
            worker.on_track(wire.decode_track(body))
        elif kind == wire.RTP:
            worker.on_rtp(*wire.decode_rtp(body))
        elif kind == wire.STOP:
            break
    worker.finish()


if __name__ == "__main__":
    main()
