"""Records and their JSON, ICE candidates from SDP, and what only the memory store has (sweeping)."""

from __future__ import annotations

from datetime import timedelta

from signaling_gateway.store import IceCandidates, Meeting, MemoryStore, Participant, ReconnectGrant
from signaling_gateway.store.keys import RECONNECT_TTL
from signaling_gateway.store.records import MAX_CANDIDATES, candidates_in_sdp, utcnow

from .conftest import Clock

OFFER = "\r\n".join(
    [
        "v=0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=candidate:1 1 udp 2122260223 192.168.1.20 54400 typ host generation 0",
        "a=candidate:2 1 udp 1686052607 203.0.113.9 54400 typ srflx raddr 192.168.1.20 rport 54400",
        "m=video 9 UDP/TLS/RTP/SAVPF 96",
        "a=candidate:1 1 udp 2122260223 192.168.1.20 54400 typ host generation 0",
        "a=mid:1",
        "",
    ]
)
ANSWER = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=candidate:1 1 udp 2130706431 10.0.0.5 7882 typ host\r\n"


def test_candidates_come_from_the_sdp_once_each() -> None:
    assert candidates_in_sdp(OFFER) == (
        "1 1 udp 2122260223 192.168.1.20 54400 typ host generation 0",
        "2 1 udp 1686052607 203.0.113.9 54400 typ srflx raddr 192.168.1.20 rport 54400",
    )
    assert candidates_in_sdp("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n") == ()
    many = "".join(f"a=candidate:{i} 1 udp 1 10.0.0.{i % 250} {1000 + i} typ host\r\n" for i in range(100))
    assert len(candidates_in_sdp(many)) == MAX_CANDIDATES


def test_ice_record_keeps_server_and_browser_sides_apart() -> None:
    ice = IceCandidates.from_exchange("abcd-efgh-jkmn", "p1", offer=OFFER, answer=ANSWER)
    assert ice.server == ("1 1 udp 2130706431 10.0.0.5 7882 typ host",)
    assert len(ice.client) == 2
    assert IceCandidates.from_json(ice.to_json()) == ice


def test_records_round_trip_through_json() -> None:
    now = utcnow()
    meeting = Meeting("abcd-efgh-jkmn", "host", now, now + timedelta(hours=8), participants=("p1", "p2"))
    assert Meeting.from_json(meeting.to_json()) == meeting
    assert meeting.with_participant("p1") == meeting
    assert meeting.with_participant("p3").participants == ("p1", "p2", "p3")
    assert meeting.without_participant("p1").participants == ("p2",)
    person = Participant("p1", "abcd-efgh-jkmn", 'Zoë "<b>"', True, now, video=True, audio=False)
    assert Participant.from_json(person.to_json()) == person
    grant = ReconnectGrant("tok", "p1", "abcd-efgh-jkmn", "host")
    assert ReconnectGrant.from_json("tok", grant.to_json(60)) == grant


async def test_memory_store_sweep_bounds_memory() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for i in range(50):
        await store.put_reconnect(ReconnectGrant(token=f"t{i}", participant_id="p", meeting_id="m", identity="host"))
    now = utcnow()
    await store.put_meeting(Meeting("abcd-efgh-jkmn", "host", now, now + timedelta(hours=8)))
    assert len(store) == 51
    clock.advance(RECONNECT_TTL + 1)
    assert store.sweep() == 50
    assert len(store) == 1
