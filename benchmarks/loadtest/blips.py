"""Network blips during the measured window, and how long each takes to heal (`--blip`, `--blip-every`, `--blip-bots`).

Every `every` seconds of the window (the first after one period, each ending inside the window) the blipping bots
(the last K guests, never the host: the others are the control group) lose their network for `blip` seconds:
both transports go into blackout, the WebSocket's TCP connection is aborted (no close frame: the gateway parks the
participant) and every reconnect attempt fails before connecting. At the end the blackout lifts and the bot's own
reconnect loop brings it back (a resume with ICE restarts, or new media after a media_reset).

Time to media, per blip and bot: from the blip's end until both (a) the bot receives video RTP from some other bot
and (b) some other bot receives this bot's video. Arrival times are the kernel's receive timestamps of the packets
(the clock the end is read on); the tracks are looked at every POLL_S, so a figure is at most that much late.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from .receiver import TrackReceiver
from .stats import delivery_ratio, percentile

POLL_S = 0.02
# A blip not healed this long after its end (or by the next blip) counts as not recovered.
RECOVERY_LIMIT_S = 30.0


class BlipMedia(Protocol):
    @property
    def tracks(self) -> Iterable[TrackReceiver]: ...


class BlipBot(Protocol):
    """What a blip needs of a bot (GatewayBot)."""

    index: int
    history: list[tuple[float, str]]  # (time.monotonic(), kind) of each comeback

    @property
    def media(self) -> BlipMedia: ...

    def network_down(self) -> None: ...

    def network_up(self) -> None: ...


def blip_starts(duration: float, blip: float, every: float) -> list[float]:
    """Offsets into the window of each blip: every `every` s from the first period on, each ending in the window."""
    if blip <= 0 or every <= 0:
        return []
    starts = []
    k = 1
    while k * every + blip <= duration + 1e-9:
        starts.append(round(k * every, 6))
        k += 1
    return starts


def first_video_after(tracks: Iterable[TrackReceiver], after_ns: int) -> int | None:
    """The earliest last-arrival after `after_ns` among video tracks (None: none has had a packet since)."""
    times = [t.last_arrival_ns for t in tracks if t.video and t.last_arrival_ns > after_ns]
    return min(times) if times else None


def delivery_outside(rows: Iterable[dict[str, Any]], blipping: Iterable[int]) -> tuple[float | None, int]:
    """Delivery over the streams between bots that never blip (per-track rows of the report), and their count."""
    excluded = set(blipping)
    expected = received = streams = 0
    for row in rows:
        publisher, subscriber = row["publisher_bot"], row["subscriber_bot"]
        if publisher < 0 or publisher in excluded or subscriber in excluded:
            continue
        expected += row["expected"]
        received += row["received"]
        streams += 1
    return delivery_ratio(received, expected), streams


def spread(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "max": None}
    return {"p50": round(percentile(list(values), 50), 3), "max": round(max(values), 3)}


@dataclass
class BlipResult:
    bot: int
    start_s: float  # offset of the blip into the measured window
    time_to_media_s: float | None = None  # max of the two below: None if not both within the limit
    receives_s: float | None = None  # (a) the bot receives video again
    received_s: float | None = None  # (b) another bot receives the bot's video again
    signalling_s: float | None = None  # the blip's end -> the bot's comeback (its welcome)
    comeback: str | None = None  # resume, media_reset, rejoin or gave_up


class Blipper:
    """Runs the blips of one measured window and measures each one's recovery."""

    def __init__(self, bots: Sequence[BlipBot], blipping: Sequence[int], blip_s: float, every_s: float,
                 duration_s: float) -> None:
        self.bots = list(bots)
        self.blipping = [b for b in self.bots if b.index in set(blipping)]
        self.blip_s = blip_s
        self.every_s = every_s
        self.starts = blip_starts(duration_s, blip_s, every_s)
        self.results: list[BlipResult] = []
        self._task: asyncio.Task[None] | None = None
        self._watchers: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """At the window's start."""
        self._task = asyncio.create_task(self._run(time.monotonic()), name="blips")

    async def _run(self, origin: float) -> None:
        for number, offset in enumerate(self.starts):
            await asyncio.sleep(max(0.0, origin + offset - time.monotonic()))
            began = time.monotonic()
            for bot in self.blipping:
                bot.network_down()
            try:
                await asyncio.sleep(max(0.0, origin + offset + self.blip_s - time.monotonic()))
            finally:
                end_ns, end = time.time_ns(), time.monotonic()
                for bot in self.blipping:
                    bot.network_up()
            following = origin + self.starts[number + 1] if number + 1 < len(self.starts) else None
            deadline = min(following or float("inf"), end + RECOVERY_LIMIT_S)
            for bot in self.blipping:
                result = BlipResult(bot.index, offset)
                self.results.append(result)
                task = asyncio.create_task(self._watch(bot, result, began, end_ns, end, deadline),
                                           name=f"blip-watch-{bot.index}")
                self._watchers.add(task)
                task.add_done_callback(self._watchers.discard)

    async def _watch(self, bot: BlipBot, result: BlipResult, began: float, end_ns: int, end: float,
                     deadline: float) -> None:
        others = [b for b in self.bots if b is not bot]
        receives = received = None
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            if receives is None:
                receives = first_video_after(bot.media.tracks, end_ns)
            if received is None:
                received = first_video_after((t for other in others for t in other.media.tracks
                                              if t.publisher_bot == bot.index), end_ns)
            if result.comeback is None:
                comeback = next(((at, kind) for at, kind in bot.history if at >= began), None)
                if comeback is not None:
                    result.comeback = comeback[1]
                    result.signalling_s = round(max(0.0, comeback[0] - end), 3)
            if result.comeback == "gave_up" or (receives is not None and received is not None
                                                and result.comeback is not None):
                break
        if receives is not None:
            result.receives_s = round((receives - end_ns) / 1e9, 3)
        if received is not None:
            result.received_s = round((received - end_ns) / 1e9, 3)
        if result.receives_s is not None and result.received_s is not None:
            result.time_to_media_s = max(result.receives_s, result.received_s)

    async def finish(self) -> None:
        """After the window: wait for the blips still healing (each bounded by RECOVERY_LIMIT_S)."""
        if self._task is not None:
            await self._task
        if self._watchers:
            await asyncio.gather(*list(self._watchers))

    def cancel(self) -> None:
        """Stop whatever still runs (the run ended early); a bot cut off gets its network back."""
        for task in [self._task, *self._watchers]:
            if task is not None and not task.done():
                task.cancel()
        for bot in self.blipping:
            with contextlib.suppress(Exception):
                bot.network_up()

    def report(self, rows: Iterable[dict[str, Any]], reconnects: dict[str, int] | None) -> dict[str, Any]:
        """The report's "blips" section."""
        healed = [r.time_to_media_s for r in self.results if r.time_to_media_s is not None]
        signalling = [r.signalling_s for r in self.results if r.signalling_s is not None]
        outside, streams = delivery_outside(rows, [b.index for b in self.blipping])
        return {
            "blip_s": self.blip_s,
            "every_s": self.every_s,
            "bots": [b.index for b in self.blipping],
            "starts_s": self.starts,
            "count": len(self.results),
            "recovered": len(healed),
            "time_to_media_s": spread(healed),
            "signalling_back_s": spread(signalling),
            "resolution_s": POLL_S,
            "reconnects": reconnects,
            "delivery_ratio_outside_blips": None if outside is None else round(outside, 6),
            "streams_outside_blips": streams,
            "per_blip": [asdict(r) for r in self.results],
        }
