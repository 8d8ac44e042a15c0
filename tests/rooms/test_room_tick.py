"""The room's periodic work is spread over the second: each participant once a second, never all at once."""

from __future__ import annotations

import functools
from collections import Counter

from mediaserver.rooms.room import TICK_SLICES, Room
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.udp_mux import UdpMux


def _room() -> Room:
    cert = Certificate.generate()
    return Room("r", UdpMux(), cert.ssl_context(), cert.fingerprint, "127.0.0.1", 9, lambda *_: None, 1_000_000)


def _record(ticked: list[str], participant_id: str, now: float) -> None:
    ticked.append(participant_id)


async def test_twenty_participants_each_tick_once_a_second_in_a_slice_of_their_own() -> None:
    room = _room()
    try:
        ticked: list[str] = []
        for i in range(TICK_SLICES):
            participant = room.join(f"p{i}", f"P{i}")
            participant.tick = functools.partial(_record, ticked, participant.id)  # type: ignore[method-assign]

        per_call: list[int] = []
        for _ in range(2 * TICK_SLICES):  # two seconds' worth of slices
            before = len(ticked)
            room._tick()
            per_call.append(len(ticked) - before)

        assert Counter(ticked) == {f"p{i}": 2 for i in range(TICK_SLICES)}
        assert max(per_call) == 1  # no slice does more than one participant's work
    finally:
        room.close()


async def test_slices_are_refilled_after_people_leave_and_more_than_twenty_share_evenly() -> None:
    room = _room()
    try:
        for i in range(TICK_SLICES + 5):
            room.join(f"p{i}", f"P{i}")
        load = Counter(p.tick_slice for p in room.participants.values())
        assert max(load.values()) == 2 and min(load.values()) == 1

        for i in range(10):
            room.leave(f"p{i}", "left")
        room.join("late", "Late")
        late = room.participants["late"].tick_slice
        assert [p.tick_slice for p in room.participants.values()].count(late) == 1  # went to a free slice
    finally:
        room.close()


async def test_upstream_nack_retries_run_for_everyone_on_every_tick_and_the_setting_reaches_them() -> None:
    room = _room()
    try:
        repaired: list[str] = []
        for i in range(3):
            participant = room.join(f"p{i}", f"P{i}")
            assert participant.publishing.repair.enabled  # UPSTREAM_NACK's default
            participant.publishing.repair_tick = functools.partial(  # type: ignore[method-assign]
                _record, repaired, participant.id)
        for _ in range(4):
            room._tick()
        # NACK retries cannot wait for a participant's slice of the second: every 50-ms tick runs them.
        assert Counter(repaired) == {f"p{i}": 4 for i in range(3)}
    finally:
        room.close()
    cert = Certificate.generate()
    off = Room("r", UdpMux(), cert.ssl_context(), cert.fingerprint, "127.0.0.1", 9, lambda *_: None, 1_000_000,
               upstream_nack=False)
    try:
        assert not off.join("p", "P").publishing.repair.enabled
    finally:
        off.close()
