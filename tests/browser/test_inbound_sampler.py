"""The sampler's arithmetic on made-up samples (no browser): rates, loss net of retransmissions, counter restarts,
missing samples, window summaries and the table. The page side is exercised by test_thin_links.py."""

from __future__ import annotations

import pytest

from .inbound_sampler import (
    Freeze,
    InboundSample,
    format_table,
    freezes,
    layer_fps,
    layer_fps_per_second,
    per_second,
    summarize,
)


def sample(t: float, received: int, lost: int, *, frames: int = 0, width: int = 1280, freezes: int = 0,
           ssrc: int = 1, transport: int | None = None) -> InboundSample:
    # 1000 payload bytes a packet, so kbit/s = packets * 8.
    return InboundSample(t=t, bytes_received=received * 1000, packets_received=received, packets_lost=lost,
                         frames_decoded=frames, frame_width=width, freeze_count=freezes, ssrc=ssrc,
                         transport_bytes=received * 1100 if transport is None else transport)


def test_per_second_rates_and_loss() -> None:
    rows = per_second([sample(100, 0, 0), sample(101, 50, 0, frames=20), sample(102, 95, 5, frames=30)], zero=100)
    assert [round(r.t) for r in rows] == [1, 2]
    assert rows[0].kbit_s == pytest.approx(400) and rows[0].link_kbit_s == pytest.approx(440)
    assert rows[0].loss_pct == 0 and rows[0].fps == 20
    assert rows[1].loss_pct == pytest.approx(10) and rows[1].fps == 10  # 5 lost of 50 expected


def test_lost_packets_recovered_by_retransmission_are_no_restart() -> None:
    # packetsLost goes back down when resent packets fill the gaps: received goes on from where it was.
    samples = [sample(0, 100, 0), sample(1, 140, 10), sample(2, 200, 4)]
    rows = per_second(samples, zero=0)
    assert rows[0].loss_pct == pytest.approx(20) and rows[1].loss_pct == 0
    assert rows[1].kbit_s == pytest.approx(480)  # not 1600, as a restart would count
    assert summarize(samples, 0, 2).loss_pct == pytest.approx(100 * 4 / 104)


def test_a_new_receiver_counts_from_zero() -> None:
    samples = [sample(0, 100, 2), sample(1, 150, 2), sample(2, 30, 0, ssrc=2, transport=50_000)]
    rows = per_second(samples, zero=0)
    assert rows[1].kbit_s == pytest.approx(240)  # 30 packets of the new receiver
    window = summarize(samples, 0, 2)
    assert window.mean_kbit_s == pytest.approx((50 + 30) * 8 / 2)


def test_missing_samples_leave_gaps_and_are_counted() -> None:
    samples = [sample(0, 0, 0), InboundSample(t=1, missing=True), sample(2, 40, 0), sample(3, 80, 0)]
    rows = per_second(samples, zero=0)
    assert [round(r.t) for r in rows] == [3]
    window = summarize(samples, 0, 3)
    assert window.missing == 1 and window.samples == 4
    with pytest.raises(AssertionError):
        summarize(samples, 0.5, 2.5)  # one sample present: nothing to difference


def test_window_freezes_widths_and_table() -> None:
    samples = [sample(t, 50 * t, 0, frames=20 * t, width=1280 if t < 2 else 640, freezes=1 + (t >= 3))
               for t in range(5)]
    window = summarize(samples, 0, 4)
    assert window.freeze_growth == 1 and window.widths == (1280, 640)
    assert window.mean_fps == pytest.approx(20) and window.min_fps == pytest.approx(20)
    table = format_table({"A": per_second(samples, zero=0)}, {"server": {2: "L1"}})
    lines = table.splitlines()
    assert "A kbit/s" in lines[0] and "server" in lines[0]
    assert len(lines) == 2 + 4 and "L1" in lines[3]


def test_layer_fps() -> None:
    publisher = [{"t": t, "layers": {"f": {"framesEncoded": 20 * t}}} for t in range(6)]
    assert layer_fps(publisher, "f", 1, 5) == pytest.approx(20)
    assert layer_fps(publisher, "h", 1, 5) == 0


def test_layer_fps_per_second() -> None:
    publisher = [{"t": 100 + t, "layers": {"f": {"framesEncoded": 20 * t - (8 if t == 3 else 0)}}} for t in range(5)]
    assert layer_fps_per_second(publisher, "f", zero=100) == {1: 20, 2: 20, 3: 12, 4: 28}


def test_freezes_note_a_key_frame_just_before() -> None:
    def at(t: int, freezes_so_far: int, keys: int) -> InboundSample:
        return InboundSample(t=t, packets_received=10 * t, bytes_received=1000 * t, freeze_count=freezes_so_far,
                             key_frames_decoded=keys)

    samples = [at(0, 0, 1), at(1, 1, 1), at(2, 1, 2), at(3, 2, 2), at(4, 2, 2), at(5, 4, 2)]
    assert freezes(samples, zero=0) == [Freeze(1, 1, False), Freeze(3, 1, True), Freeze(5, 2, False)]
