"""The E-model score with figures (loss, RTT, jitter -> MOS, level) and the smoother that keeps tiles from flapping."""

from __future__ import annotations

import pytest

from mediaserver import control_protocol as proto
from mediaserver.rooms.quality import (
    LEVELS,
    LOST,
    LinkSample,
    QualitySmoother,
    Score,
    mos_from_r,
    one_way_delay_ms,
    score,
    worst,
)


def scored(loss: float, rtt_ms: float | None = 20.0, jitter_ms: float = 0.0) -> Score:
    return score(LinkSample(loss, jitter_ms, rtt_ms))


@pytest.mark.parametrize(("loss", "rtt_ms", "jitter_ms", "level", "mos"), [
    (0.0, 20.0, 0.0, "excellent", 4.36),  # a clean LAN: about the best the model gives
    (0.0, 20.0, 30.0, "excellent", 4.33),  # jitter alone costs little: 60 ms of jitter buffer
    (0.02, 20.0, 0.0, "excellent", 4.02),  # the last of excellent
    (0.03, 20.0, 0.0, "good", 3.83),
    (0.05, 20.0, 0.0, "poor", 3.47),  # poor from ~4.8 %
    (0.10, 20.0, 0.0, "poor", 2.74),
    (0.15, 20.0, 0.0, "poor", 2.24),  # the browser test's impairment
    (0.0, 400.0, 0.0, "good", 3.83),  # delay alone: a long call still works
    (0.0, 600.0, 0.0, "poor", 3.19),  # 380 ms one way: people talk over each other
    (0.02, 300.0, 0.0, "good", 3.63),  # the good/poor boundary: good on a steady path,
    (0.02, 300.0, 10.0, "good", 3.50),  # just good with 10 ms of jitter,
    (0.02, 300.0, 20.0, "poor", 3.37),  # poor with 20 ms
])
def test_figures(loss: float, rtt_ms: float, jitter_ms: float, level: str, mos: float) -> None:
    result = scored(loss, rtt_ms, jitter_ms)
    assert result.level == level
    assert result.mos == pytest.approx(mos, abs=0.01)


def test_the_delay_is_half_the_round_trip_plus_a_jitter_buffer_and_the_end_systems() -> None:
    assert one_way_delay_ms(300.0, 10.0) == pytest.approx(150 + 20 + 80)
    assert one_way_delay_ms(None, 0.0) == pytest.approx(80), "no RTT measured: no network delay counted"
    assert scored(0.0, None).level == "excellent"


def test_mos_falls_with_loss_and_with_delay_and_stays_in_range() -> None:
    by_loss = [scored(loss).mos for loss in (0.0, 0.01, 0.05, 0.2, 0.5, 1.0)]
    assert by_loss == sorted(by_loss, reverse=True)
    by_rtt = [scored(0.0, rtt).mos for rtt in (0.0, 200.0, 400.0, 800.0, 2000.0)]
    assert by_rtt == sorted(by_rtt, reverse=True)
    assert scored(1.0, 5000.0).mos == 1.0
    assert mos_from_r(-5) == 1.0 and mos_from_r(3) == 1.0 and mos_from_r(120) == 4.5
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.01)


def test_worst_ignores_directions_with_nothing_measured_and_lost_beats_any_mos() -> None:
    good, poor = scored(0.03), scored(0.10)
    assert worst([None, good, None]) == good
    assert worst([good, poor]) == poor
    assert worst([None, None]) is None
    assert worst([poor, LOST, Score(1.0, "poor")]) == LOST


def test_the_levels_are_the_control_protocols() -> None:
    assert LEVELS == proto.QUALITY_LEVELS


def test_a_drop_shows_at_once_and_a_rise_after_four_seconds() -> None:
    smoother = QualitySmoother()
    excellent, poor = scored(0.0), scored(0.10)
    assert smoother.update(0.0, excellent) and smoother.level == "excellent"
    assert smoother.update(1.0, poor) and smoother.level == "poor", "a drop shows at the next sample"
    for second in (2.0, 3.0, 4.0):
        assert not smoother.update(second, excellent)
        assert smoother.level == "poor", f"{second - 1:g} s of better samples is not enough yet"
    assert smoother.update(5.0, excellent) and smoother.level == "excellent"
    assert smoother.shown == excellent


def test_a_link_bad_one_second_in_three_stays_poor_instead_of_flapping() -> None:
    smoother = QualitySmoother()
    changes = [smoother.update(float(t), scored(0.10) if t % 3 == 0 else scored(0.0)) for t in range(30)]
    assert smoother.level == "poor"
    assert changes.count(True) == 1, "shown poor from the first sample, never excellent in between"


def test_the_shown_mos_is_the_worst_of_the_window_and_rises_step_by_step() -> None:
    smoother = QualitySmoother()
    smoother.update(0.0, scored(0.10))
    smoother.update(1.0, scored(0.03))
    smoother.update(2.0, scored(0.0))
    assert smoother.shown == scored(0.10)
    smoother.update(4.0, scored(0.0))
    assert smoother.level == "good", "the 10 % second has aged out, the 3 % one not yet"
    smoother.update(5.0, scored(0.0))
    assert smoother.level == "excellent"


def test_nothing_measured_changes_nothing() -> None:
    smoother = QualitySmoother()
    assert not smoother.update(0.0, None) and smoother.shown is None
    smoother.update(1.0, scored(0.10))
    for second in range(2, 20):
        assert not smoother.update(float(second), None)
    assert smoother.level == "poor", "no news is not good news"
    assert smoother.update(20.0, scored(0.0)) and smoother.level == "excellent", "old samples have aged out"
