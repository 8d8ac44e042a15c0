"""Recording: the media server taps each publication and a worker muxes WebM without transcoding."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from signaling_gateway.media_client import MediaClient
from tests.processes import MediaServerProcess, start_media_server

from .aiortc_peer import AiortcParticipant, wait_until_async
from .test_robustness import mapped_libraries

pytestmark = pytest.mark.slow


@pytest.fixture
def recording_server(tmp_path: Path) -> Iterator[tuple[MediaServerProcess, Path]]:
    server = start_media_server("--recordings-dir", str(tmp_path))
    try:
        yield server, tmp_path
    finally:
        server.stop()


async def test_recording_holds_video_and_audio_of_plausible_duration(
    recording_server: tuple[MediaServerProcess, Path]
) -> None:
    server, _ = recording_server
    control = MediaClient("127.0.0.1", server.control_port)
    events: list[tuple[str, dict[str, object]]] = []
    control.add_event_listener(lambda name, params: events.append((name, params)))
    await control.start()
    assert await control.wait_connected(10)
    alice = AiortcParticipant(control, "rec", "alice")
    try:
        await control.create_room("rec")
        await alice.join(publish=True)
        directory = Path((await control.request("start_recording", {"room_id": "rec"}))["directory"])
        assert ("recording", {"room_id": "rec", "active": True}) in events
        # Record for about three seconds of media, measured by what the server received from alice.
        start = await _received(control)

        async def three_seconds_in() -> bool:
            return await _received(control) >= start + 90 + 150  # 30 video frames/s + 50 audio packets/s

        await wait_until_async(three_seconds_in, 15, "3 s of alice's media reach the server")
        manifest = (await control.request("stop_recording", {"room_id": "rec"}))["manifest"]
        assert ("recording", {"room_id": "rec", "active": False}) in events
    finally:
        await alice.close()
        await control.close()

    entry = manifest["participants"][0]
    assert entry["participant_id"] == "alice" and entry["file"] == "alice.webm"
    assert (directory / "manifest.json").exists()
    with av.open(str(directory / entry["file"])) as container:
        kinds = sorted(s.type for s in container.streams)
        assert kinds == ["audio", "video"]
        assert container.duration is not None, "a finished WebM states its duration"
        duration = container.duration / 1e6
        assert 2.0 <= duration <= 8.0, duration
        video = container.streams.video[0]
        assert (video.codec_context.name, video.codec_context.width, video.codec_context.height) == ("vp8", 320, 240)
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 60, "about 30 fps for the recorded seconds decode from the file"
    # The forwarding process itself still never loads a codec: the worker does the muxing.
    assert not {lib for lib in mapped_libraries(server.pid) if "libavcodec" in lib or "libvpx" in lib}
    assert os.path.getsize(directory / entry["file"]) > 10_000


async def _received(control: MediaClient) -> int:
    pubs = (await control.stats("rec"))["rooms"]["rec"]["alice"]["publications"]
    return sum(p["packets_in"] for p in pubs)


async def test_recording_requests_are_validated(control: MediaClient) -> None:
    await control.create_room("norec")
    with pytest.raises(Exception) as info:
        await control.request("stop_recording", {"room_id": "norec"})
    assert getattr(info.value, "code", None) == "not_found"
    with pytest.raises(Exception) as info:
        await control.request("start_recording", {"room_id": "missing"})
    assert getattr(info.value, "code", None) == "not_found"
