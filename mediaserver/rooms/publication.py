"""Publication: one track a participant sends (audio, or video with its simulcast layers), and who receives it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from mediaserver.rtp.header import RtpHeader

from .codec import FrameDescriptor, VideoCodec, video_codec
from .forwarder import Forwarder
from .hold_back import HoldBack
from .packet_cache import PacketCache
from .receive_stats import ReceiveStats
from .speaker import AudioLevel
from .upstream_nack import NackGenerator

# Keyframe requests per layer are throttled as LiveKit does: the low layer's keyframes are cheap.
PLI_INTERVAL_LOW_S = 0.5
PLI_INTERVAL_HIGH_S = 1.0
# A layer with no packet for this long is considered stopped (the encoder dropped it or was paused).
LAYER_TIMEOUT_S = 1.5

# What waits behind a gap being repaired upstream: the fan-out's arguments (desc None: a padding-only packet).
HeldPacket = tuple[bytes, RtpHeader, bytes, FrameDescriptor | None]


class Layer:
    """One simulcast encoding (or the only encoding) of a video track, as seen from the server."""

    __slots__ = (
        "_bytes_mark",
        "_frames",
        "_frames_mark",
        "_mark_at",
        "bitrate_bps",
        "fps",
        "height",
        "history",
        "hold",
        "index",
        "last_packet_at",
        "last_pli",
        "nack",
        "paused",
        "rid",
        "ssrc",
        "stats",
        "width",
    )

    def __init__(self, index: int, rid: str | None) -> None:
        self.index = index
        self.rid = rid
        self.ssrc: int | None = None
        self.stats: ReceiveStats | None = None
        self.width = 0
        self.height = 0
        self.last_packet_at = 0.0
        self.last_pli = -1e9
        self.paused = False  # dynacast told the publisher to stop sending it
        # The layer's latest packets as received (plain RTP), shared by its subscriptions to answer NACKs.
        self.history = PacketCache()
        # What of this SSRC is missing and NACKed upstream (upstream_repair.py); None: no upstream repair.
        self.nack: NackGenerator | None = None
        self.hold: HoldBack[HeldPacket] | None = None  # with `nack`: packets behind a gap, until it is repaired
        self.bitrate_bps = 0
        self.fps = 0.0
        self._frames = 0
        self._bytes_mark = 0
        self._frames_mark = 0
        self._mark_at = 0.0

    def live(self, now: float) -> bool:
        # A layer dynacast paused is gone at once; waiting for its timeout would route a pin through it.
        return self.ssrc is not None and not self.paused and now - self.last_packet_at < LAYER_TIMEOUT_S

    def count_frame(self) -> None:
        self._frames += 1

    def measure(self, now: float) -> None:
        """Once a second: bitrate and frame rate since the previous measurement."""
        elapsed = now - self._mark_at
        if self.stats is None or elapsed <= 0:
            self._mark_at = now
            return
        received = self.stats.bitrate_bytes
        self.bitrate_bps = int((received - self._bytes_mark) * 8 / elapsed)
        self.fps = (self._frames - self._frames_mark) / elapsed
        self._bytes_mark, self._frames_mark, self._mark_at = received, self._frames, now

    def describe(self, now: float) -> dict[str, object]:
        return {"rid": self.rid, "ssrc": self.ssrc, "live": self.live(now), "width": self.width,
                "height": self.height, "bitrate_bps": self.bitrate_bps, "fps": round(self.fps, 1),
                "received": 0 if self.stats is None else self.stats.received,
                **({} if self.nack is None else {"repair": {
                    **self.nack.stats(), "released_late": 0 if self.hold is None else self.hold.released_late}})}


def _no_keyframe_source(ssrc: int) -> None:
    pass


class Publication:
    """Maps inbound SSRCs to layers and holds, per layer, the subscriptions its packets fan out to."""

    def __init__(
        self,
        participant_id: str,
        mid: str,
        kind: str,
        payload_type: int,
        rtx_payload_type: int | None,
        clock_rate: int,
        rids: list[str],
        source: str = "",
        codec: str = "",
    ) -> None:
        # camera / microphone / screen; the id's prefix tells subscribers which (a=msid carries the id).
        self.source = source or ("camera" if kind == "video" else "microphone")
        self.id = f"{'screen' if self.source == 'screen' else kind}-{secrets.token_hex(6)}"
        self.participant_id = participant_id
        self.mid = mid
        self.kind = kind
        self.is_video = kind == "video"
        # What the forwarder reads from this track's payloads; the codec name is how subscribers are offered it.
        self.codec_name = codec or ("VP8" if self.is_video else "opus")
        self.codec: VideoCodec | None = video_codec(self.codec_name) if self.is_video else None
        # Every codec the publisher's offer listed: another one may be asked for when a subscriber lacks this.
        self.offered_codecs: tuple[str, ...] = (self.codec_name,)
        self.payload_type = payload_type
        self.rtx_payload_type = rtx_payload_type
        self.clock_rate = clock_rate
        self.rids = rids
        # Rids are offered lowest first (q, h, f): the index is the spatial rank.
        self.layers = [Layer(i, rid) for i, rid in enumerate(rids)] if rids else [Layer(0, None)]
        self.fanout: list[list[Forwarder]] = [[] for _ in self.layers]
        self.subscriptions: list[Forwarder] = []
        self.packets_in = 0
        self.muted = False  # the host turned this track off: nothing is forwarded
        self.audio_level = AudioLevel()
        # Set by the owning participant: sends a PLI for one SSRC to the publisher.
        self.send_pli: Callable[[int], None] = _no_keyframe_source

    @property
    def simulcast(self) -> bool:
        return len(self.layers) > 1

    def layer_for(self, ssrc: int, rid: str | None) -> Layer | None:
        """Bind an SSRC to its layer (by rid, or the single layer); None if the rid is unknown."""
        if rid is not None and self.rids:
            if rid not in self.rids:
                return None
            layer = self.layers[self.rids.index(rid)]
        elif self.rids and rid is None:
            return None  # a simulcast stream without its rid cannot be placed yet
        else:
            layer = self.layers[0]
        layer.ssrc = ssrc
        layer.stats = ReceiveStats(ssrc, self.clock_rate)
        layer.history = PacketCache()  # a new SSRC numbers afresh: the old packets must not answer NACKs
        return layer

    def highest_live(self, now: float) -> int:
        best = -1
        for layer in self.layers:
            if layer.live(now):
                best = layer.index
        return best

    # --- fan-out membership ------------------------------------------------------------------

    def subscribe(self, sub: Forwarder) -> None:
        self.subscriptions.append(sub)

    def unsubscribe(self, sub: Forwarder) -> None:
        self.detach(sub)
        if sub in self.subscriptions:
            self.subscriptions.remove(sub)

    def attach(self, sub: Forwarder, layer: int) -> None:
        self.attach_layer(sub, min(max(layer, 0), len(self.layers) - 1))

    def attach_layer(self, sub: Forwarder, layer: int) -> None:
        if 0 <= layer < len(self.fanout) and sub not in self.fanout[layer]:
            self.fanout[layer].append(sub)

    def detach_layer(self, sub: Forwarder, layer: int) -> None:
        if 0 <= layer < len(self.fanout) and sub in self.fanout[layer]:
            self.fanout[layer].remove(sub)

    def detach(self, sub: Forwarder) -> None:
        for subs in self.fanout:
            if sub in subs:
                subs.remove(sub)

    def needed_layers(self, now: float) -> set[int]:
        """Layers some active subscription is on, heading to, or would take if sent (dynacast pauses the others).

        When the wanted layer is not arriving (the publisher's own encoder or loss adaptation dropped it),
        the layer below it stays on too, so such a subscriber falls back one step rather than to the bottom.
        """
        needed = set()
        for sub in self.subscriptions:
            if sub.active and not sub.paused:
                needed.add(sub.target_layer)
                needed.add(sub.wanted_layer)
                if sub.current_layer >= 0:
                    needed.add(sub.current_layer)
                wanted = min(sub.wanted_layer, len(self.layers) - 1)
                layer = self.layers[wanted]
                if wanted > 0 and layer.ssrc is not None and not layer.paused and not layer.live(now):
                    needed.add(wanted - 1)
        return needed

    def set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if not muted:
            # Subscribers skipped everything while muted: restart each on a fresh keyframe with gapless numbers.
            for sub in self.subscriptions:
                sub.restart()

    def uplink_bitrate(self) -> int:
        return sum(layer.bitrate_bps for layer in self.layers)

    def uplink_fraction_lost(self) -> float:
        fractions = [layer.stats.last_fraction_lost for layer in self.layers if layer.stats is not None]
        return max(fractions, default=0.0)

    def request_keyframe(self, layer_index: int) -> None:
        if not self.is_video:
            return
        index = min(max(layer_index, 0), len(self.layers) - 1)
        layer = self.layers[index]
        if layer.ssrc is None:
            return  # not seen yet: its first packets start with a keyframe anyway
        now = time.monotonic()
        interval = PLI_INTERVAL_LOW_S if index == 0 else PLI_INTERVAL_HIGH_S
        if now - layer.last_pli < interval:
            return
        layer.last_pli = now
        self.send_pli(layer.ssrc)
