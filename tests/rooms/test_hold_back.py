"""The hold behind a gap: items go in sequence order once the numbers before them are in, or after their wait."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaserver.rooms.hold_back import HOLD_MAX_S, HOLD_MIN_S, HoldBack, hold_time


def test_the_hold_is_two_round_trips_and_a_margin_within_bounds() -> None:
    assert hold_time(None) == HOLD_MAX_S
    assert hold_time(0.001) == HOLD_MIN_S
    assert abs(hold_time(0.03) - 0.08) < 1e-9
    assert hold_time(1.0) == HOLD_MAX_S


def test_what_follows_a_gap_waits_for_it_and_goes_in_order() -> None:
    hold: HoldBack[str] = HoldBack()
    hold.add(11, 0.0, "p11")
    hold.add(12, 0.0, "p12")
    assert hold.ready(0.01, 0.05, oldest_missing=10) == []
    hold.add(10, 0.02, "p10")  # the repair
    assert hold.ready(0.02, 0.05, oldest_missing=None) == [("p10", False), ("p11", False), ("p12", False)]
    assert len(hold) == 0


def test_two_gaps_release_up_to_the_one_still_open() -> None:
    hold: HoldBack[int] = HoldBack()
    for seq in (6, 7, 9):
        hold.add(seq, 0.0, seq)
    hold.add(5, 0.01, 5)
    assert hold.ready(0.01, 0.05, oldest_missing=8) == [(5, False), (6, False), (7, False)]
    assert hold.ready(0.03, 0.05, oldest_missing=8) == []
    assert hold.ready(0.05, 0.05, oldest_missing=8) == [(9, False)]  # waited its time
    hold.add(8, 0.06, 8)  # repaired after 9 went: late
    assert hold.ready(0.06, 0.05, oldest_missing=None) == [(8, True)]
    assert hold.released_late == 1


def test_order_holds_across_the_wrap() -> None:
    hold: HoldBack[int] = HoldBack()
    for seq in (0, 1, 65535):
        hold.add(seq, 0.0, seq)
    assert [item for item, _ in hold.ready(0.0, 0.05, oldest_missing=None)] == [65535, 0, 1]


@given(st.integers(0, 0xFFFF), st.permutations(list(range(12))))
def test_whatever_the_arrival_order_items_go_in_sequence_order_once_whole(start: int, order: list[int]) -> None:
    hold: HoldBack[int] = HoldBack()
    out: list[int] = []
    seen: set[int] = set()
    for offset in order:
        hold.add((start + offset) & 0xFFFF, 0.0, offset)
        seen.add(offset)
        missing = [o for o in range(12) if o not in seen]
        oldest = (start + missing[0]) & 0xFFFF if missing else None
        released = hold.ready(0.0, 1.0, oldest)
        assert not any(late for _, late in released)
        out += [item for item, _ in released]
    assert out == list(range(12))
