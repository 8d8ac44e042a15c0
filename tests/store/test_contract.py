"""The Store contract (key schema, JSON values, TTLs and their refresh, atomic edits), on memory and on Redis."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from signaling_gateway.store import DEFAULT_TTLS, IceCandidates, Meeting, Participant, ReconnectGrant
from signaling_gateway.store.keys import ICE_TTL, MAX_HOST_MEETINGS, MEETING_TTL, PARTICIPANT_TTL, RECONNECT_TTL
from signaling_gateway.store.records import parse_iso, utcnow

from .conftest import Harness

MEETING_ID = "abcd-efgh-jkmn"
OTHER_MEETING_ID = "other-meet-ing2"
# The issue allows ±60 s on TTLs; ours are exact up to the time the test itself takes.
SLACK = 60


def _meeting(meeting_id: str = MEETING_ID) -> Meeting:
    now = utcnow()
    return Meeting(id=meeting_id, host="host", created_at=now, expires_at=now + timedelta(hours=8))


def _participant(pid: str, meeting_id: str = MEETING_ID, name: str = "Ann", *, audio: bool = False,
                 video: bool = False) -> Participant:
    return Participant(id=pid, meeting_id=meeting_id, name=name, is_host=False, joined_at=utcnow(), audio=audio,
                       video=video)


def _grant(token: str = "t1", pid: str = "p1") -> ReconnectGrant:
    return ReconnectGrant(token=token, participant_id=pid, meeting_id=MEETING_ID, identity="guest:g1")


async def _assert_ttl(h: Harness, key: str, expected: float) -> None:
    ttl = await h.ttl(key)
    assert ttl is not None, f"{key} does not exist"
    assert expected - SLACK <= ttl <= expected, f"{key}: TTL {ttl}, expected {expected}"


def test_ttls_are_the_ones_the_spec_names() -> None:
    assert (MEETING_TTL, PARTICIPANT_TTL, ICE_TTL, RECONNECT_TTL) == (8 * 3600, 8 * 3600, 300, 60)
    assert (DEFAULT_TTLS.meeting, DEFAULT_TTLS.participant, DEFAULT_TTLS.ice, DEFAULT_TTLS.reconnect) == (
        8 * 3600,
        8 * 3600,
        300,
        60,
    )


async def test_a_meeting_is_one_json_key_with_the_8_hour_ttl(harness: Harness) -> None:
    meeting = _meeting()
    await harness.store.put_meeting(meeting)
    assert await harness.keys() == [f"meeting:{MEETING_ID}"]
    await _assert_ttl(harness, f"meeting:{MEETING_ID}", MEETING_TTL)
    value = json.loads(await harness.raw(f"meeting:{MEETING_ID}") or "")
    # The product spec's fields, readable by anything else sharing the Redis.
    assert value["host"] == "host"
    assert parse_iso(value["created"]) == meeting.created_at
    assert value["participants"] == []
    assert value["active"] is True
    assert await harness.store.get_meeting(MEETING_ID) == meeting


async def test_meetings_expire_after_8_hours(harness: Harness) -> None:
    meeting = _meeting()
    await harness.store.put_meeting(meeting)
    await harness.elapse(MEETING_TTL - 1)
    assert await harness.store.get_meeting(meeting.id) == meeting
    await harness.elapse(2)
    assert await harness.store.get_meeting(meeting.id) is None
    assert await harness.keys() == []


async def test_participants_are_json_keys_listed_in_their_meeting(harness: Harness) -> None:
    store = harness.store
    await store.put_meeting(_meeting())
    await store.put_meeting(_meeting(OTHER_MEETING_ID))
    ann = _participant("p1", audio=True)
    await store.put_participant(ann)
    await harness.elapse(1)
    await store.put_participant(_participant("p2", name="<b>Bo</b>"))
    await store.put_participant(_participant("p3", meeting_id=OTHER_MEETING_ID))

    assert [p.id for p in await store.list_participants(MEETING_ID)] == ["p1", "p2"]
    assert [p.id for p in await store.list_participants(OTHER_MEETING_ID)] == ["p3"]
    assert await store.get_participant("p1") == ann
    bo = await store.get_participant("p2")
    assert bo is not None and bo.name == "<b>Bo</b>"
    assert json.loads(await harness.raw(f"meeting:{MEETING_ID}") or "")["participants"] == ["p1", "p2"]

    await _assert_ttl(harness, "participant:p1", PARTICIPANT_TTL)
    value = json.loads(await harness.raw("participant:p1") or "")
    assert {k: value[k] for k in ("name", "roomID", "isHost", "video", "audio")} == {
        "name": "Ann",
        "roomID": MEETING_ID,
        "isHost": False,
        "video": False,
        "audio": True,
    }
    assert parse_iso(value["joinedAt"]) == ann.joined_at
    assert sorted(await harness.keys()) == sorted(
        [f"meeting:{MEETING_ID}", f"meeting:{OTHER_MEETING_ID}", "participant:p1", "participant:p2", "participant:p3"]
    )


async def test_a_join_refreshes_the_meeting_ttl(harness: Harness) -> None:
    await harness.store.put_meeting(_meeting())
    await harness.elapse(3600)
    await harness.store.put_participant(_participant("p1"))
    await _assert_ttl(harness, f"meeting:{MEETING_ID}", MEETING_TTL)


async def test_a_participant_without_a_stored_meeting_is_kept_but_listed_nowhere(harness: Harness) -> None:
    await harness.store.put_participant(_participant("p1"))
    assert await harness.store.get_participant("p1") is not None
    assert await harness.store.list_participants(MEETING_ID) == []
    assert await harness.keys() == ["participant:p1"]


async def test_deleting_a_participant_removes_its_keys_and_its_listing(harness: Harness) -> None:
    store = harness.store
    await store.put_meeting(_meeting())
    for pid in ("p1", "p2"):
        await store.put_participant(_participant(pid))
        await store.put_ice(IceCandidates(MEETING_ID, pid, server=("s",), client=("c",)))
    await store.delete_participant("p1")
    assert await store.get_participant("p1") is None
    assert await store.get_ice(MEETING_ID, "p1") is None
    assert [p.id for p in await store.list_participants(MEETING_ID)] == ["p2"]
    assert json.loads(await harness.raw(f"meeting:{MEETING_ID}") or "")["participants"] == ["p2"]
    assert sorted(await harness.keys()) == [f"ice:{MEETING_ID}:p2", f"meeting:{MEETING_ID}", "participant:p2"]
    await store.delete_participant("p1")  # twice, and unknown ones: harmless
    await store.delete_participant("nobody")


async def test_participants_expire_after_8_hours_and_drop_out_of_the_listing(harness: Harness) -> None:
    store = harness.store
    await store.put_meeting(_meeting())
    await store.put_participant(_participant("p1"))
    await harness.elapse(PARTICIPANT_TTL - 10)
    await store.put_participant(_participant("p2"))  # refreshes the meeting, not p1
    await harness.elapse(20)
    assert await store.get_participant("p1") is None
    # The meeting record still names p1 (nobody deleted it); the listing skips ids whose keys are gone.
    assert [p.id for p in await store.list_participants(MEETING_ID)] == ["p2"]


async def test_touch_restarts_the_participant_and_meeting_ttls(harness: Harness) -> None:
    store = harness.store
    await store.put_meeting(_meeting())
    await store.put_participant(_participant("p1"))
    await harness.elapse(PARTICIPANT_TTL - 10)
    assert await store.touch_participant("p1") is True
    await _assert_ttl(harness, "participant:p1", PARTICIPANT_TTL)
    await _assert_ttl(harness, f"meeting:{MEETING_ID}", MEETING_TTL)
    await harness.elapse(PARTICIPANT_TTL - 10)
    assert await store.get_participant("p1") is not None
    assert [p.id for p in await store.list_participants(MEETING_ID)] == ["p1"]
    assert await store.touch_participant("missing") is False
    assert await store.get_participant("missing") is None  # touch creates nothing


async def test_media_state_updates_the_record_and_keeps_its_ttl(harness: Harness) -> None:
    store = harness.store
    await store.put_participant(_participant("p1"))
    await harness.elapse(3600)
    updated = await store.set_media_state("p1", audio=True, video=True)
    assert updated is not None and (updated.audio, updated.video) == (True, True)
    assert await store.get_participant("p1") == updated
    await _assert_ttl(harness, "participant:p1", PARTICIPANT_TTL - 3600)
    assert await store.set_media_state("p1", False, True) == updated.with_media(audio=False, video=True)
    assert await store.set_media_state("missing", audio=True, video=True) is None
    assert await store.get_participant("missing") is None


async def test_ice_candidates_live_5_minutes(harness: Harness) -> None:
    store = harness.store
    first = IceCandidates(MEETING_ID, "p1", server=("1 1 udp 2130706431 10.0.0.1 7882 typ host",), client=())
    await store.put_ice(first)
    assert await harness.keys() == [f"ice:{MEETING_ID}:p1"]
    await _assert_ttl(harness, f"ice:{MEETING_ID}:p1", ICE_TTL)
    assert json.loads(await harness.raw(f"ice:{MEETING_ID}:p1") or "")["server"] == list(first.server)
    assert await store.get_ice(MEETING_ID, "p1") == first
    await harness.elapse(ICE_TTL - 10)
    second = IceCandidates(MEETING_ID, "p1", server=first.server, client=("2 1 udp 1 192.0.2.7 5000 typ host",))
    await store.put_ice(second)  # a new exchange replaces the record and restarts the TTL
    await harness.elapse(20)
    assert await store.get_ice(MEETING_ID, "p1") == second
    await harness.elapse(ICE_TTL)
    assert await store.get_ice(MEETING_ID, "p1") is None


async def test_reconnect_grants_live_60_seconds_and_are_single_use(harness: Harness) -> None:
    store = harness.store
    grant = _grant()
    await store.put_reconnect(grant)
    assert await harness.keys() == ["reconnect:t1"]
    await _assert_ttl(harness, "reconnect:t1", RECONNECT_TTL)
    value = json.loads(await harness.raw("reconnect:t1") or "")
    assert (value["userID"], value["roomID"]) == ("p1", MEETING_ID)
    assert 0 <= (parse_iso(value["expiresAt"]) - utcnow()).total_seconds() <= RECONNECT_TTL + 1
    assert await store.get_reconnect("t1") == grant  # looking does not use it up
    assert await store.take_reconnect("t1") == grant
    assert await store.take_reconnect("t1") is None
    assert await store.get_reconnect("t1") is None

    await store.put_reconnect(_grant("t2"))
    await harness.elapse(RECONNECT_TTL - 1)
    assert await store.get_reconnect("t2") is not None
    await harness.elapse(2)
    assert await store.take_reconnect("t2") is None
    assert await harness.keys() == []


async def test_refreshing_a_grant_restarts_its_ttl_but_never_revives_it(harness: Harness) -> None:
    store = harness.store
    grant = _grant()
    await store.put_reconnect(grant)
    await harness.elapse(RECONNECT_TTL - 5)
    assert await store.refresh_reconnect(grant) is True
    await _assert_ttl(harness, "reconnect:t1", RECONNECT_TTL)
    await harness.elapse(RECONNECT_TTL - 5)
    assert await store.get_reconnect("t1") == grant
    assert await store.take_reconnect("t1") == grant
    # Used by a reconnecting socket while the old one still refreshes: it must stay used.
    assert await store.refresh_reconnect(grant) is False
    assert await store.get_reconnect("t1") is None
    await store.put_reconnect(_grant("t2"))
    await harness.elapse(RECONNECT_TTL + 1)
    assert await store.refresh_reconnect(_grant("t2")) is False
    assert await harness.keys() == []


async def test_concurrent_joins_and_leaves_all_land_in_the_meeting_record(harness: Harness) -> None:
    """Read-modify-write of the meeting record must be atomic: 20 joins at once lose none."""
    store = harness.store
    await store.put_meeting(_meeting())
    ids = [f"p{i:02d}" for i in range(20)]
    await asyncio.gather(*(store.put_participant(_participant(pid)) for pid in ids))
    meeting = await store.get_meeting(MEETING_ID)
    assert meeting is not None and sorted(meeting.participants) == ids
    await asyncio.gather(*(store.delete_participant(pid) for pid in ids[::2]))
    meeting = await store.get_meeting(MEETING_ID)
    assert meeting is not None and sorted(meeting.participants) == ids[1::2]
    assert sorted(p.id for p in await store.list_participants(MEETING_ID)) == ids[1::2]


async def test_two_takers_of_one_token_get_it_once(harness: Harness) -> None:
    await harness.store.put_reconnect(_grant())
    results = await asyncio.gather(*(harness.store.take_reconnect("t1") for _ in range(10)))
    assert [r for r in results if r is not None] == [_grant()]


async def test_deleting_a_meeting_ends_its_listing(harness: Harness) -> None:
    store = harness.store
    await store.put_meeting(_meeting())
    await store.put_participant(_participant("p1"))
    await store.delete_meeting(MEETING_ID)
    assert await store.get_meeting(MEETING_ID) is None
    assert await store.list_participants(MEETING_ID) == []
    assert await harness.keys() == ["participant:p1"]  # removed when that participant leaves


async def test_a_hosts_meeting_list_is_one_json_key_newest_last_and_bounded(harness: Harness) -> None:
    store = harness.store
    assert await store.host_meetings("host") == []
    await store.add_host_meeting("host", "aaaa-aaaa-aaaa")
    await store.add_host_meeting("host", "bbbb-bbbb-bbbb")
    await store.add_host_meeting("host", "aaaa-aaaa-aaaa")  # again: moves to the end, never twice
    assert await store.host_meetings("host") == ["bbbb-bbbb-bbbb", "aaaa-aaaa-aaaa"]
    assert await harness.keys() == ["hostmeetings:host"]
    await _assert_ttl(harness, "hostmeetings:host", MEETING_TTL)
    assert json.loads(await harness.raw("hostmeetings:host") or "") == ["bbbb-bbbb-bbbb", "aaaa-aaaa-aaaa"]
    assert await store.host_meetings("someone-else") == []
    for i in range(MAX_HOST_MEETINGS + 5):
        await store.add_host_meeting("busy", f"m{i}")
    ids = await store.host_meetings("busy")
    assert len(ids) == MAX_HOST_MEETINGS and ids[-1] == f"m{MAX_HOST_MEETINGS + 4}"
