"""The gateway bus's limits without Redis: what an event must look like, and the bounded outbound queue."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from signaling_gateway.bus import MAX_EVENT_BYTES, MAX_PENDING, LocalBus, RedisBus, parse_event

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)


@given(st.one_of(st.text(max_size=200), JSON.map(json.dumps), st.binary(max_size=50), st.integers()))
def test_anything_on_the_channel_is_an_event_or_none_and_never_raises(data: object) -> None:
    event = parse_event(data)
    if event is not None:
        assert all(isinstance(event[key], str) for key in ("op", "meeting", "from"))


def test_an_event_needs_op_meeting_and_sender_as_strings_and_a_bounded_size() -> None:
    good = {"op": "deliver", "meeting": "m", "from": "g"}
    assert parse_event(json.dumps(good)) == good
    for missing in good:
        assert parse_event(json.dumps({k: v for k, v in good.items() if k != missing})) is None
    assert parse_event(json.dumps({**good, "meeting": 7})) is None
    padded = json.dumps({**good, "pad": "x" * MAX_EVENT_BYTES})
    assert parse_event(padded) is None


async def test_events_redis_cannot_take_are_dropped_and_counted_not_buffered_without_bound() -> None:
    bus = RedisBus("redis://127.0.0.1:9/0")  # never started: nothing drains its queue
    for n in range(MAX_PENDING + 5):
        bus.publish({"op": "deliver", "meeting": "m", "n": n})
    assert bus.dropped == 5
    await bus.close()


async def test_a_gateway_alone_is_the_only_live_one() -> None:
    bus = LocalBus("g1")
    assert await bus.alive("g1") and not await bus.alive("g2") and bus.connected
