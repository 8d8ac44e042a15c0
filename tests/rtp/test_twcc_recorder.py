"""The transport-cc arrival recorder: what it reports decodes back to what arrived, once, across wrap and gaps."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.rtcp import TransportCC, parse_rtcp
from mediaserver.rtp.twcc import TwccFeedback
from mediaserver.rtp.twcc_recorder import MAX_PACKET_BYTES, MAX_PENDING, ArrivalRecorder

SENDER, MEDIA = 0x5E4DE4, 0xC0FFEE
HALF_TICK_US = 125
WRAP_US = (1 << 24) * 64_000  # the reference time's period


def decode(packets: list[bytes]) -> list[TwccFeedback]:
    out = []
    for wire in packets:
        assert len(wire) < MAX_PACKET_BYTES
        (packet,) = parse_rtcp(wire)
        assert isinstance(packet, TransportCC)
        assert (packet.sender_ssrc, packet.media_ssrc) == (SENDER, MEDIA)
        out.append(packet.decode())
    return out


def reported(feedbacks: list[TwccFeedback]) -> list[tuple[int, int | None]]:
    return [entry for feedback in feedbacks for entry in feedback.arrivals]


def us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def test_one_interval_round_trips() -> None:
    recorder = ArrivalRecorder()
    sent = [(100 + i, 10.0 + i * 0.0071) for i in range(40)]
    for seq, at in sent:
        recorder.record(seq, at)
    (feedback,) = decode(recorder.feedback(SENDER, MEDIA, 11.0))
    assert feedback.base_seq == 100 and feedback.feedback_count == 0
    assert [s for s, _ in feedback.arrivals] == [s for s, _ in sent]
    for (_, got), (_, at) in zip(feedback.arrivals, sent, strict=True):
        assert got is not None and abs(got - us(at)) <= HALF_TICK_US
    assert recorder.feedback(SENDER, MEDIA, 11.1) == []  # nothing new: nothing sent


@settings(max_examples=200, deadline=None)
@given(first=st.integers(0, 0xFFFF),
       events=st.lists(st.tuples(st.integers(1, 4), st.integers(0, 40_000), st.booleans(), st.booleans()),
                       min_size=1, max_size=400))
def test_random_arrivals_with_losses_and_reordering_round_trip(first: int,
                                                              events: list[tuple[int, int, bool, bool]]) -> None:
    """Each number is reported once, in order, from the first reported on: received with its first arrival time
    when it arrived before a later number was reported, else lost (gaps, and packets late across a report)."""
    numbers, number = [], first
    for index, (step, _, _, _) in enumerate(events):
        number += step if index else 0
        numbers.append(number)
    # Arrival order: a packet may overtake the one before it.
    for index, (_, _, swap, _) in enumerate(events):
        if swap and index:
            numbers[index - 1], numbers[index] = numbers[index], numbers[index - 1]
    recorder = ArrivalRecorder()
    feedbacks: list[TwccFeedback] = []
    arrived: dict[int, int] = {}  # what the report must say was received, and when
    batch: list[tuple[int, int]] = []
    done: int | None = None  # one past the highest number reported
    at_us = 5_000_000

    def report(now_us: int) -> None:
        nonlocal done, batch
        feedbacks.extend(decode(recorder.feedback(SENDER, MEDIA, now_us / 1_000_000)))
        for n, at in batch:
            if (done is None or n >= done) and n not in arrived:
                arrived[n] = at
        if batch:
            done = max(done or 0, *(n + 1 for n, _ in batch))
        batch = []

    for n, (_, pause_us, _, call) in zip(numbers, events, strict=True):
        at_us += pause_us
        recorder.record(n & 0xFFFF, at_us / 1_000_000)
        batch.append((n, at_us))
        if call:
            report(at_us)
    report(at_us + 100_000)
    assert [f.feedback_count for f in feedbacks] == [i & 0xFF for i in range(len(feedbacks))]
    entries = reported(feedbacks)
    low = min(arrived)
    assert [seq for seq, _ in entries] == [n & 0xFFFF for n in range(low, max(numbers) + 1)]  # once each, wrapping
    for (_, got), n in zip(entries, range(low, max(numbers) + 1), strict=True):
        want = arrived.get(n)
        assert (got is None) == (want is None), n
        if got is not None and want is not None:
            assert abs(got - want) <= HALF_TICK_US


def test_sequence_numbers_wrap_across_feedback_packets() -> None:
    recorder = ArrivalRecorder()
    feedbacks = []
    for i in range(120):
        recorder.record((65_500 + i) & 0xFFFF, 1.0 + i * 0.01)
        if i % 25 == 24:
            feedbacks += decode(recorder.feedback(SENDER, MEDIA, 1.0 + i * 0.01))
    feedbacks += decode(recorder.feedback(SENDER, MEDIA, 3.0))
    assert [seq for seq, _ in reported(feedbacks)] == [(65_500 + i) & 0xFFFF for i in range(120)]
    assert all(at is not None for _, at in reported(feedbacks))


def test_reordered_in_one_interval_both_reported_late_across_intervals_dropped() -> None:
    recorder = ArrivalRecorder()
    for seq, at in [(1, 1.000), (3, 1.010), (2, 1.012), (4, 1.020), (6, 1.030)]:
        recorder.record(seq, at)
    (first,) = decode(recorder.feedback(SENDER, MEDIA, 1.05))
    assert first.arrivals == [(1, us(1.0)), (2, us(1.012)), (3, us(1.010)), (4, us(1.020)), (5, None), (6, us(1.03))]
    # 5 turns up after it was reported lost, with 7 and a duplicate of 6: only 7 is news.
    for seq, at in [(5, 1.06), (6, 1.061), (7, 1.07)]:
        recorder.record(seq, at)
    (second,) = decode(recorder.feedback(SENDER, MEDIA, 1.1))
    assert second.base_seq == 7 and second.arrivals == [(7, us(1.07))] and second.feedback_count == 1
    recorder.record(2, 1.2)  # only a late one: nothing to say
    assert recorder.feedback(SENDER, MEDIA, 1.25) == []


def test_duplicates_keep_the_first_arrival() -> None:
    recorder = ArrivalRecorder()
    for seq, at in [(10, 2.0), (11, 2.004), (11, 2.009), (12, 2.010)]:
        recorder.record(seq, at)
    (feedback,) = decode(recorder.feedback(SENDER, MEDIA, 2.1))
    assert feedback.arrivals == [(10, us(2.0)), (11, us(2.004)), (12, us(2.010))]


def test_a_gap_within_the_limit_is_reported_lost_even_across_intervals() -> None:
    recorder = ArrivalRecorder()
    for i in range(10):
        recorder.record(i, 1.0 + i * 0.01)
    decode(recorder.feedback(SENDER, MEDIA, 1.1))
    for i in range(500, 505):
        recorder.record(i, 1.2 + i * 0.0001)
    (feedback,) = decode(recorder.feedback(SENDER, MEDIA, 1.3))
    assert feedback.base_seq == 10 and len(feedback.arrivals) == 495
    assert all(at is None for _, at in feedback.arrivals[:490]) and all(at for _, at in feedback.arrivals[490:])


def test_a_long_gap_starts_again_after_it() -> None:
    recorder = ArrivalRecorder()
    for i in [*range(0, 10), *range(2000, 2010)]:
        recorder.record(i, 1.0 + i * 0.0001)
    feedbacks = decode(recorder.feedback(SENDER, MEDIA, 1.5))
    assert [(f.base_seq, len(f.arrivals)) for f in feedbacks] == [(0, 10), (2000, 10)]
    for i in range(4000, 4003):  # the same across two intervals
        recorder.record(i, 2.0 + i * 0.0001)
    assert [(f.base_seq, len(f.arrivals)) for f in decode(recorder.feedback(SENDER, MEDIA, 2.5))] == [(4000, 3)]


def test_a_delta_too_long_for_16_bits_starts_a_new_packet() -> None:
    recorder = ArrivalRecorder()
    for seq, at in [(1, 1.0), (2, 1.01), (3, 10.0), (4, 10.01)]:  # 9 s between 2 and 3
        recorder.record(seq, at)
    feedbacks = decode(recorder.feedback(SENDER, MEDIA, 10.1))
    assert [f.arrivals for f in feedbacks] == [[(1, us(1.0)), (2, us(1.01))], [(3, us(10.0)), (4, us(10.01))]]
    assert [f.feedback_count for f in feedbacks] == [0, 1]


def test_a_large_interval_splits_into_packets_under_the_size_limit() -> None:
    recorder = ArrivalRecorder()
    arrivals = {i: 3.0 + i * 0.0003 for i in range(4000) if i % 17}  # a loss now and then
    for seq, at in arrivals.items():
        recorder.record(seq, at)
    packets = recorder.feedback(SENDER, MEDIA, 5.0)
    assert len(packets) > 1 and all(len(p) < MAX_PACKET_BYTES for p in packets)
    entries = reported(decode(packets))
    assert [seq for seq, _ in entries] == list(range(1, 4000))  # 0 was lost before anything arrived: not news
    for seq, got in entries:
        if seq in arrivals:
            assert got is not None and abs(got - us(arrivals[seq])) <= HALF_TICK_US
        else:
            assert got is None


def test_the_reference_time_wraps_and_the_times_move_with_it() -> None:
    recorder = ArrivalRecorder()
    start = (1 << 23) * 0.064 - 1.0  # a second before the 24-bit signed reference time overflows
    sent = [(i, start + i * 0.02) for i in range(100)]
    feedbacks = []
    for seq, at in sent:
        recorder.record(seq, at)
        if seq % 10 == 9:
            feedbacks += decode(recorder.feedback(SENDER, MEDIA, at))
    references = [f.reference_time for f in feedbacks]
    assert references[0] > 0 > references[-1]  # it went round
    for (_, got), (_, at) in zip(reported(feedbacks), sent, strict=True):
        assert got is not None
        assert min((got - us(at)) % WRAP_US, (us(at) - got) % WRAP_US) <= HALF_TICK_US


def test_a_sender_that_restarts_lower_down_is_followed() -> None:
    recorder = ArrivalRecorder()
    for i in range(30_000, 30_010):
        recorder.record(i, 1.0 + i * 1e-6)
    decode(recorder.feedback(SENDER, MEDIA, 1.1))
    for i in range(10_000, 10_005):  # 20 000 behind: not a late packet, a new numbering
        recorder.record(i, 1.2 + i * 1e-6)
    (feedback,) = decode(recorder.feedback(SENDER, MEDIA, 1.3))
    assert [seq for seq, _ in feedback.arrivals] == list(range(10_000, 10_005))


def test_after_a_long_silence_the_report_starts_where_packets_resume() -> None:
    recorder = ArrivalRecorder()
    for i in range(10):
        recorder.record(i, 1.0 + i * 0.01)
    decode(recorder.feedback(SENDER, MEDIA, 1.1))
    assert recorder.feedback(SENDER, MEDIA, 20.0) == []
    for i in range(300, 303):
        recorder.record(i, 20.05 + i * 0.001)
    (feedback,) = decode(recorder.feedback(SENDER, MEDIA, 20.5))
    assert feedback.base_seq == 300  # not 290 packets of an outage reported lost


def test_pending_arrivals_are_bounded() -> None:
    recorder = ArrivalRecorder()
    for i in range(MAX_PENDING + 500):
        recorder.record(i & 0xFFFF, 1.0 + i * 1e-5)
    entries = reported(decode(recorder.feedback(SENDER, MEDIA, 2.0)))
    assert len(entries) == MAX_PENDING  # what did not fit was never recorded
