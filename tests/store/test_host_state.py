"""The host controls' state in the store (lock, end, per-guest blocks and removal), on memory and on Redis."""

from __future__ import annotations

import json

from signaling_gateway.store import GuestControls, IceCandidates
from signaling_gateway.store.keys import GUEST_CONTROLS_TTL, MEETING_TTL

from .conftest import Harness
from .test_contract import MEETING_ID, _assert_ttl, _meeting, _participant


async def test_lock_is_a_field_of_the_meeting_and_keeps_its_ttl(harness: Harness) -> None:
    store = harness.store
    assert await store.set_meeting_locked(MEETING_ID, True) is None, "no meeting, nothing to lock"
    await store.put_meeting(_meeting())
    await harness.elapse(3600)
    locked = await store.set_meeting_locked(MEETING_ID, True)
    assert locked is not None and locked.locked
    assert json.loads(await harness.raw(f"meeting:{MEETING_ID}") or "")["locked"] is True
    await _assert_ttl(harness, f"meeting:{MEETING_ID}", MEETING_TTL - 3600)
    stored = await store.get_meeting(MEETING_ID)
    assert stored is not None and stored.locked
    unlocked = await store.set_meeting_locked(MEETING_ID, False)
    assert unlocked is not None and not unlocked.locked


async def test_ending_leaves_a_tombstone_and_deletes_the_participants(harness: Harness) -> None:
    store = harness.store
    assert await store.end_meeting(MEETING_ID) is None
    await store.put_meeting(_meeting())
    await store.put_participant(_participant("p1"))
    await store.put_participant(_participant("p2", name="Bo"))
    await store.put_ice(IceCandidates(MEETING_ID, "p1", server=("1 1 udp 1 127.0.0.1 9 typ host",), client=()))
    ended = await store.end_meeting(MEETING_ID)
    assert ended is not None and ended.participants == ("p1", "p2")
    assert await harness.keys() == [f"meeting:{MEETING_ID}"]
    tombstone = await store.get_meeting(MEETING_ID)
    assert tombstone is not None and not tombstone.active and tombstone.participants == ()
    await _assert_ttl(harness, f"meeting:{MEETING_ID}", MEETING_TTL)
    await harness.elapse(MEETING_TTL + 1)
    assert await store.get_meeting(MEETING_ID) is None


async def test_guest_controls_live_as_long_as_a_guest_token(harness: Harness) -> None:
    store = harness.store
    assert await store.get_guest_controls(MEETING_ID, "g1") is None
    controls = GuestControls(MEETING_ID, "g1").with_blocked("audio", True)
    await store.put_guest_controls(controls)
    assert await store.get_guest_controls(MEETING_ID, "g1") == controls
    assert await store.get_guest_controls(MEETING_ID, "g2") is None, "per guest token"
    assert await store.get_guest_controls("other-meet-ing", "g1") is None, "per meeting"
    key = f"guestcontrols:{MEETING_ID}:g1"
    assert json.loads(await harness.raw(key) or "") == {
        "roomID": MEETING_ID, "guestID": "g1", "removed": False, "audioBlocked": True, "videoBlocked": False,
    }  # fmt: skip
    await _assert_ttl(harness, key, GUEST_CONTROLS_TTL)
    removed = GuestControls(MEETING_ID, "g1", removed=True)
    await store.put_guest_controls(removed)
    assert await store.get_guest_controls(MEETING_ID, "g1") == removed
    await harness.elapse(GUEST_CONTROLS_TTL + 1)
    assert await store.get_guest_controls(MEETING_ID, "g1") is None
