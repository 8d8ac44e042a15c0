"""The upstream NACK generator: what goes missing, when each number is asked for, and when it is given up."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mediaserver.rooms.upstream_nack import (
    DEFAULT_RTT_S,
    GIVE_UP_S,
    MAX_JUMP,
    MAX_MISSING,
    MAX_TRIES,
    MIN_INTERVAL_S,
    NackGenerator,
)


def fed(*seqs: int, now: float = 0.0) -> NackGenerator:
    gen = NackGenerator()
    for seq in seqs:
        gen.on_packet(seq, now)
    return gen


def test_an_in_order_stream_misses_nothing() -> None:
    gen = fed(*range(100, 200))
    assert gen.missing == 0 and not gen.fresh
    assert gen.due(1.0, None) == []
    assert gen.nacks_sent == 0


def test_a_gap_is_due_at_once_then_once_per_round_trip() -> None:
    gen = fed(1, 2, 5)
    assert gen.fresh and gen.missing == 2
    assert gen.due(0.0, 0.05) == [3, 4]
    assert not gen.fresh
    assert gen.due(0.049, 0.05) == []  # asked for less than a round trip ago
    assert gen.due(0.05, 0.05) == [3, 4]
    assert (gen.nacks_sent, gen.nacked) == (2, 4)


def test_without_an_rtt_the_default_paces_and_a_tiny_rtt_is_floored() -> None:
    gen = fed(1, 3)
    assert gen.due(0.0, None) == [2]
    assert gen.due(DEFAULT_RTT_S - 0.001, None) == []
    assert gen.due(DEFAULT_RTT_S, None) == [2]
    gen = fed(1, 3)
    assert gen.due(0.0, 0.001) == [2]
    assert gen.due(MIN_INTERVAL_S / 2, 0.001) == []
    assert gen.due(MIN_INTERVAL_S, 0.001) == [2]


def test_a_reordered_packet_fills_its_gap_and_a_duplicate_is_refused() -> None:
    gen = fed(1, 2, 4)
    assert gen.on_packet(3, 0.01) is True
    assert gen.missing == 0 and gen.due(0.02, None) == []
    assert gen.on_packet(3, 0.02) is False  # came twice
    assert gen.on_packet(4, 0.02) is False  # the newest, again
    assert gen.duplicates == 2


def test_numbers_wrap_around() -> None:
    gen = fed(65533, 65534, 65535, 1)
    assert gen.due(0.0, None) == [0]
    assert gen.on_packet(2, 0.0) is True
    gen = fed(65534, 2)
    assert gen.due(0.0, None) == [65535, 0, 1]
    assert gen.recover(65535) and gen.recover(0)
    assert gen.due(1.0 - 0.5, None) == [1]


def test_a_retransmission_is_taken_only_for_a_missing_number() -> None:
    gen = fed(10, 13)
    assert gen.recover(11) is True
    assert gen.recover(11) is False  # the second retransmission of it
    assert gen.recover(9) is False  # an old packet resent as a bandwidth probe
    assert gen.on_packet(12, 0.0) is True  # the original, late: no retransmission needed now
    assert gen.recover(12) is False
    assert (gen.recovered, gen.rtx_dropped, gen.missing) == (1, 3, 0)


def test_a_number_is_asked_for_at_most_ten_times() -> None:
    gen = fed(1, 3)
    rtt = 0.05
    asked = [t for t in range(30) if gen.due(t * rtt, rtt)]
    assert len(asked) == MAX_TRIES and gen.nacked == MAX_TRIES
    assert gen.missing == 0 and gen.gave_up == 1


def test_a_number_missing_for_a_second_is_given_up() -> None:
    gen = fed(1, 3)
    assert gen.due(0.0, 0.4) == [2]
    assert gen.due(0.8, 0.4) == [2]
    assert gen.due(GIVE_UP_S + 0.01, 0.4) == []
    assert gen.missing == 0 and gen.gave_up == 1
    assert gen.recover(2) is False  # too late now


def test_the_list_is_capped_to_the_newest_numbers() -> None:
    gen = fed(0, 301)  # 300 lost in one burst
    lost = gen.due(0.0, None)
    assert lost == list(range(301 - MAX_MISSING, 301))
    assert gen.gave_up == 300 - MAX_MISSING
    gen = fed(0, 201, 402)  # two bursts: the oldest numbers make room
    assert gen.missing == MAX_MISSING
    assert gen.due(0.0, None)[0] == 402 - MAX_MISSING - 1


def test_a_big_jump_starts_over_instead_of_listing_thousands() -> None:
    gen = fed(5, 6, 8)
    assert gen.on_packet(8 + MAX_JUMP + 1, 0.0) is True
    assert gen.missing == 0 and gen.resets == 1
    assert gen.on_packet(8 + MAX_JUMP + 2, 0.0) is True
    assert gen.due(0.0, None) == []


def test_one_stray_old_packet_keeps_the_list_but_a_stream_restarted_behind_resets_it() -> None:
    gen = fed(5000, 5001, 5003)
    assert gen.on_packet(100, 0.0) is False  # a stray from long ago
    assert gen.missing == 1 and gen.resets == 0
    assert gen.on_packet(5004, 0.0) is True
    assert gen.on_packet(200, 0.0) is False
    assert gen.on_packet(201, 0.0) is True  # two in sequence: the stream went back for good
    assert gen.resets == 1 and gen.missing == 0
    assert gen.on_packet(202, 0.0) is True


def test_clearing_forgets_what_is_missing() -> None:
    gen = fed(1, 4)
    gen.clear()
    assert gen.missing == 0 and not gen.fresh and gen.due(1.0, None) == []


@given(st.integers(0, 0xFFFF),
       st.lists(st.sampled_from(["next", "lose", "swap", "dup"]), min_size=1, max_size=200))
def test_each_number_is_accepted_once_and_the_missing_are_exactly_those_not_seen(
        start: int, plan: list[str]) -> None:
    # A network that loses, swaps neighbours and duplicates, within the cap and the give-up time.
    arrivals = [start]
    seq = start + 1
    for step in plan:
        if step == "lose":
            seq += 1
        elif step == "swap":
            arrivals += [seq + 1, seq]
            seq += 2
            continue
        elif step == "dup":
            arrivals.append(arrivals[-1])
            continue
        arrivals.append(seq)
        seq += 1
    gen = NackGenerator()
    accepted = [s for s in arrivals if gen.on_packet(s & 0xFFFF, 0.0)]
    assert sorted(accepted) == sorted(set(arrivals)), "every number once, nothing twice"
    expected = set(range(min(arrivals), max(arrivals) + 1)) - set(arrivals)
    listed = gen.due(0.0, None)
    assert listed == [s & 0xFFFF for s in sorted(expected)]
    for lost in listed:
        assert gen.recover(lost)
    assert gen.missing == 0 and gen.recovered == len(expected)
