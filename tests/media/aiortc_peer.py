"""An aiortc participant driven over the media server's control protocol: the independent interop peer."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from mediaserver import control_protocol as proto
from signaling_gateway.media_client import MediaClient

from .encoded_media import audio_track, video_track

# Keep aiortc's candidates on loopback: tests send nothing beyond it. A test may switch the connections it
# gathers next to IPv6 (["::1"]): read at each gathering.
HOST_ADDRESSES = ["127.0.0.1"]
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: list(HOST_ADDRESSES)


class AiortcParticipant:
    """`video_codec`: the one codec its camera offers (None: aiortc's VP8 and H.264); `decodes`: the video codecs
    its subscriber answers keep (None: all aiortc has), to play a browser that lacks one."""

    def __init__(self, control: MediaClient, room_id: str, participant_id: str, video_codec: str | None = None,
                 decodes: set[str] | None = None) -> None:
        self.control = control
        self.video_codec = video_codec
        self.decodes = decodes
        self.room_id = room_id
        self.id = participant_id
        self.publisher = RTCPeerConnection()
        self.subscriber = RTCPeerConnection()
        self.frames: Counter[tuple[str, str]] = Counter()  # (publisher participant id, kind) -> decoded frames
        self.video_sizes: dict[str, tuple[int, int]] = {}
        self._readers: list[asyncio.Task[None]] = []
        self._negotiation = asyncio.Lock()
        self._offer_sdp = ""
        # Answers to spoil on purpose (a broken client): each is sent as garbage instead of the real answer.
        self.broken_answers = 0
        self.answer_errors: list[str] = []
        self.subscriber.on("track", self._on_track)
        control.add_event_listener(self._on_event)

    async def join(self, publish: bool = True) -> None:
        await self.control.join(self.room_id, self.id, self.id)
        if publish:
            camera = self.publisher.addTransceiver(video_track(self.video_codec or "VP8"), direction="sendonly")
            if self.video_codec is not None:
                codecs = RTCRtpSender.getCapabilities("video").codecs
                camera.setCodecPreferences([c for c in codecs if c.mimeType in (f"video/{self.video_codec}",
                                                                                  "video/rtx")])
            self.publisher.addTransceiver(audio_track(), direction="sendonly")
            await self.publisher.setLocalDescription(await self.publisher.createOffer())
            answer = await self.control.publisher_offer(self.room_id, self.id, self.publisher.localDescription.sdp)
            await self.publisher.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def _on_event(self, name: str, params: dict[str, Any]) -> None:
        if name == proto.RENEGOTIATION_NEEDED and params.get("participant_id") == self.id:
            asyncio.get_running_loop().create_task(self._renegotiate())

    async def _renegotiate(self) -> None:
        async with self._negotiation:
            offer, offer_id = await self.control.subscriber_offer(self.room_id, self.id)
            self._offer_sdp = offer  # aiortc fires "track" before remoteDescription is set
            await self.subscriber.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await self.subscriber.setLocalDescription(await self.subscriber.createAnswer())
            answer = self.subscriber.localDescription.sdp
            if self.decodes is not None:
                answer = keep_video_codecs(answer, self.decodes)
            if self.broken_answers > 0:
                self.broken_answers -= 1
                answer = answer.replace("a=mid:", "a=mid:x")  # mids that were never offered
            try:
                await self.control.subscriber_answer(self.room_id, self.id, answer, offer_id)
            except proto.ControlError as exc:
                self.answer_errors.append(exc.code)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # aiortc names a remote track by the track id of its a=msid; the stream id is the publisher.
        publisher_id = stream_ids_by_track(self._offer_sdp)[track.id]
        self._readers.append(asyncio.get_running_loop().create_task(self._read(track, publisher_id)))

    async def _read(self, track: MediaStreamTrack, publisher_id: str) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.frames[(publisher_id, track.kind)] += 1
                if track.kind == "video":
                    self.video_sizes[publisher_id] = (frame.width, frame.height)  # type: ignore[union-attr]

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await self.publisher.close()
        await self.subscriber.close()


def keep_video_codecs(sdp: str, names: set[str]) -> str:
    """The answer as a browser decoding only `names` (and their rtx) would have written it."""
    lines = sdp.split("\r\n")
    names_by_pt = {line.split()[0][len("a=rtpmap:") :]: line.split()[1].split("/")[0]
                   for line in lines if line.startswith("a=rtpmap:")}
    apt = {line.split()[0][len("a=fmtp:") :]: line.split("apt=")[1] for line in lines
           if line.startswith("a=fmtp:") and "apt=" in line}
    kept = {pt for pt, name in names_by_pt.items()
            if name in names or (pt in apt and names_by_pt.get(apt[pt]) in names)}
    out, video = [], False
    for line in lines:
        if line.startswith("m="):
            video = line.startswith("m=video")
            if video:
                head = line.split()[:3]
                line = " ".join(head + [pt for pt in line.split()[3:] if pt in kept])
        elif (video and line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"))
              and line.split(":", 1)[1].split()[0] not in kept):
            continue
        out.append(line)
    return "\r\n".join(out)


def stream_ids_by_track(sdp: str) -> dict[str, str]:
    pairs = (line[len("a=msid:") :].split() for line in sdp.splitlines() if line.startswith("a=msid:"))
    return {p[1]: p[0] for p in pairs if len(p) == 2}


async def wait_until_async(check: Callable[[], Awaitable[bool]], timeout: float, message: str) -> None:
    """Like wait_until, for conditions that need a request (e.g. the media server's stats)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        await asyncio.sleep(0.1)


async def wait_until(predicate: Any, timeout: float, message: str) -> None:
    """Poll a condition on the event loop until it holds; fail with `message` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s: {message}")
        await asyncio.sleep(0.05)
