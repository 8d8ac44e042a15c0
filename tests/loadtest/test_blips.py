"""Blips (benchmarks/loadtest/blips.py): the schedule, who blips, delivery outside the blips, time to media."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.loadtest import blips as blips_module
from benchmarks.loadtest.blips import Blipper, blip_starts, delivery_outside, first_video_after
from benchmarks.loadtest.config import RunConfig, parse_args
from benchmarks.loadtest.receiver import TrackReceiver


def test_blips_start_after_one_period_and_end_inside_the_window() -> None:
    assert blip_starts(25, 4, 10) == [10, 20]
    assert blip_starts(25, 4, 12) == [12]
    assert blip_starts(3600, 10, 300) == [300 * k for k in range(1, 12)]  # 3300 + 10 fits, 3600 + 10 does not
    assert blip_starts(60, 5, 60) == [] and blip_starts(60, 0, 10) == []


@given(duration=st.floats(1, 4000), blip=st.floats(0.1, 100), every=st.floats(0.2, 600))
def test_the_schedule_keeps_every_blip_inside_the_window(duration: float, blip: float, every: float) -> None:
    starts = blip_starts(duration, blip, every)
    assert all(start + blip <= duration + 1e-6 for start in starts)
    assert starts == [round(every * k, 6) for k in range(1, len(starts) + 1)]
    assert (len(starts) + 1) * every + blip > duration - 1e-6  # none left out


def test_the_last_guests_blip_never_the_host() -> None:
    assert RunConfig(participants=4, blip=4, blip_bots=1).blip_indices == (3,)
    assert RunConfig(participants=20, blip=4, blip_bots=3).blip_indices == (17, 18, 19)
    assert RunConfig(participants=4, blip=4, blip_bots=9).blip_indices == (1, 2, 3)
    assert RunConfig(participants=4, blip=0, blip_bots=1).blip_indices == ()


def test_blip_options_on_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOST_PASSWORD", "x")
    config = parse_args(["--participants", "6", "--duration", "3600", "--blip", "8", "--blip-every", "120",
                         "--blip-bots", "2"])
    assert (config.blip, config.blip_every, config.blip_bots, config.blip_indices) == (8, 120, 2, (4, 5))
    assert parse_args([]).blip == 0
    for bad in (["--blip", "5", "--blip-every", "5"], ["--blip", "5", "--blip-bots", "3", "--participants", "4"],
                ["--blip", "5", "--blip-bots", "0"], ["--blip", "5", "--target", "janus"],
                ["--blip", "5", "--blip-every", "60", "--duration", "30"], ["--blip", "-1"]):
        with pytest.raises(SystemExit):
            parse_args(["--duration", "100", "--blip-every", "20", *bad])


def row(publisher: int, subscriber: int, expected: int, received: int) -> dict[str, int]:
    return {"publisher_bot": publisher, "subscriber_bot": subscriber, "expected": expected, "received": received}


def test_delivery_outside_the_blips_counts_only_streams_between_bots_that_never_blip() -> None:
    rows = [row(0, 1, 100, 100), row(1, 0, 100, 99), row(2, 0, 100, 10), row(0, 2, 100, 20), row(-1, 1, 5, 0)]
    ratio, streams = delivery_outside(rows, [2])
    assert streams == 2 and ratio == pytest.approx(199 / 200)
    assert delivery_outside([row(1, 2, 10, 10)], [1, 2]) == (None, 0)


def test_first_video_after_looks_at_video_only() -> None:
    audio, video1, video2 = (TrackReceiver(s, k, "0", "p", "t") for s, k in ((1, "audio"), (2, "video"),
                                                                              (3, "video")))
    audio.last_arrival_ns, video1.last_arrival_ns, video2.last_arrival_ns = 500, 300, 200
    assert first_video_after([audio, video1, video2], 100) == 200
    assert first_video_after([audio, video1, video2], 250) == 300
    assert first_video_after([audio], 100) is None


@dataclass
class FakeMedia:
    tracks: list[TrackReceiver] = field(default_factory=list)


@dataclass
class FakeBot:
    """Comes back `heal_s` after its network does (or never): its tracks get a packet, its history a resume."""

    index: int
    heal_s: float | None = 0.1
    media: FakeMedia = field(default_factory=FakeMedia)
    history: list[tuple[float, str]] = field(default_factory=list)
    downs: list[float] = field(default_factory=list)
    peers: list[FakeBot] = field(default_factory=list)

    def network_down(self) -> None:
        self.downs.append(time.monotonic())

    def network_up(self) -> None:
        if self.heal_s is not None:
            asyncio.get_running_loop().call_later(self.heal_s, self._heal)

    def _heal(self) -> None:
        """It receives again from the bots whose link works, and they receive it (a stuck bot neither way)."""
        now_ns = time.time_ns()
        self.history.append((time.monotonic(), "resume"))
        working = {peer.index for peer in self.peers if peer.heal_s is not None or not peer.downs}
        for track in self.media.tracks:
            if track.publisher_bot in working:
                track.last_arrival_ns = now_ns
        for peer in self.peers:
            if peer.index in working:
                for track in peer.media.tracks:
                    if track.publisher_bot == self.index:
                        track.last_arrival_ns = now_ns


def video_from(publisher: int) -> TrackReceiver:
    track = TrackReceiver(publisher + 100, "video", "1", f"p{publisher}", "t")
    track.publisher_bot = publisher
    return track


async def test_the_blipper_cuts_the_blipping_bots_and_measures_their_time_to_media(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blips_module, "RECOVERY_LIMIT_S", 0.5)
    host, healthy, stuck = FakeBot(0), FakeBot(1, heal_s=0.1), FakeBot(2, heal_s=None)
    for bot in (host, healthy, stuck):
        bot.media.tracks = [video_from(other.index) for other in (host, healthy, stuck) if other is not bot]
        bot.peers = [other for other in (host, healthy, stuck) if other is not bot]
    blipper = Blipper([host, healthy, stuck], [1, 2], blip_s=0.2, every_s=0.5, duration_s=1.2)
    assert blipper.starts == [0.5, 1.0]
    started = time.monotonic()
    blipper.start()
    await blipper.finish()
    assert host.downs == [] and len(healthy.downs) == len(stuck.downs) == 2
    assert [round(t - started, 1) for t in healthy.downs] == [0.5, 1.0]
    report = blipper.report([], {"resume": 2})
    assert report["count"] == 4 and report["recovered"] == 2 and report["bots"] == [1, 2]
    for result in report["per_blip"]:
        if result["bot"] == 1:
            assert 0.09 <= result["time_to_media_s"] <= 0.1 + 2 * blips_module.POLL_S + 0.05, result
            assert result["comeback"] == "resume" and result["signalling_s"] >= 0.09
        else:
            assert result["time_to_media_s"] is None and result["comeback"] is None
    assert report["time_to_media_s"]["max"] < 0.25 and report["reconnects"] == {"resume": 2}
