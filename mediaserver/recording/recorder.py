"""The media server's side of recording: a tap subscription per publication, piped to the worker process."""

from __future__ import annotations

import asyncio
import functools
import json
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from mediaserver.rooms.publication import Publication
from mediaserver.rooms.subscription import Subscription
from mediaserver.rooms.subscriptions import new_subscription

from . import wire

log = structlog.get_logger(__name__)

# Beyond this much unwritten pipe data the worker is not keeping up: drop rather than grow without bound.
MAX_PIPE_BUFFER = 32 * 1024 * 1024
STOP_TIMEOUT_S = 20.0


class RoomRecorder:
    def __init__(self, room_id: str, directory: Path) -> None:
        self.room_id = room_id
        self.directory = directory
        self._process: asyncio.subprocess.Process | None = None
        self._taps: dict[str, Subscription] = {}  # by publication id
        self._next_index = 0
        self.dropped = 0
        self.started_at = time.time()

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "mediaserver.recording.worker", "--dir", str(self.directory),
            "--room", self.room_id, stdin=asyncio.subprocess.PIPE,
        )
        log.info("recording_started", room=self.room_id, directory=str(self.directory))

    def add(self, pub: Publication, participant_name: str) -> None:
        """Tap a publication: its best layer, rewritten into one continuous stream, goes to the worker."""
        if self._process is None or pub.id in self._taps:
            return
        index = self._next_index
        self._next_index += 1
        self._write(wire.track_record({
            "index": index, "track_id": pub.id, "participant_id": pub.participant_id, "name": participant_name,
            "kind": pub.kind, "clock_rate": pub.clock_rate, "codec": pub.codec_name,
        }))
        tap = new_subscription(pub, "rec", pub.payload_type, functools.partial(self._on_packet, index))
        pub.subscribe(tap)
        # Dynacast keeps asking the publisher for the top layer; retarget() records the best one arriving.
        tap.wanted_layer = len(pub.layers) - 1
        tap.select(len(pub.layers) - 1, 2)
        tap.negotiated = True
        tap.activate()
        self._taps[pub.id] = tap

    def retarget(self, now: float) -> None:
        """Once a second: each tap follows the highest layer that is arriving (switching on its keyframe).

        Fixed on the top layer, a recording got no video at all while the publisher was not sending it
        (paused by dynacast until the recording asked for it, or dropped by the encoder for bandwidth).
        """
        for tap in self._taps.values():
            pub = tap.publication
            if len(pub.layers) < 2:
                continue
            live = [layer.index for layer in pub.layers if layer.live(now)]
            tap.select(max(live) if live else len(pub.layers) - 1, 2)

    def remove(self, pub: Publication) -> None:
        tap = self._taps.pop(pub.id, None)
        if tap is not None:
            tap.deactivate()
            pub.unsubscribe(tap)

    def _on_packet(self, index: int, packet: bytes) -> None:
        self._write(wire.rtp_record(index, time.monotonic(), packet))

    def _write(self, record: bytes) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        if process.stdin.transport.get_write_buffer_size() > MAX_PIPE_BUFFER:
            self.dropped += 1
            return
        process.stdin.write(record)

    async def stop(self) -> dict[str, Any]:
        for tap in list(self._taps.values()):
            self.remove(tap.publication)
        process, self._process = self._process, None
        if process is None:
            return {}
        assert process.stdin is not None
        process.stdin.write(wire.stop_record())
        try:
            await process.stdin.drain()
            process.stdin.close()
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            process.kill()
            log.warning("recording_worker_killed", room=self.room_id)
        manifest_path = self.directory / "manifest.json"
        manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        manifest["dropped_packets"] = self.dropped
        log.info("recording_stopped", room=self.room_id, directory=str(self.directory), dropped=self.dropped)
        return manifest
