"""What keeps a participant through outages, and what ends it: negotiation that never wedges, the detached
window after a gateway goes away, and rooms that close once nobody has been in them for the departure timeout."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.config import Config
from mediaserver.rooms.participant import Participant, StaleAnswer
from mediaserver.rooms.room import Room
from mediaserver.sdp.model import parse_sdp
from mediaserver.sfu import Sfu
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.mux_core import MuxCore

CHROME_OFFER = (Path(__file__).parents[1] / "sdp" / "data" / "chrome156_offer_audio_simulcast_video.sdp").read_text()
BROWSER_FP = ":".join(["C3"] * 32)
CERT = Certificate.generate()


def answer_for(offer: str, ufrag: str = "brwS") -> str:
    """A Chrome-shaped recvonly answer to one of our subscriber offers."""
    mids = [(m.mid, m.kind) for m in parse_sdp(offer).media]
    lines = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
             f"a=group:BUNDLE {' '.join(mid or '' for mid, _ in mids)}", "a=msid-semantic: WMS"]
    for mid, kind in mids:
        pt, codec = (111, "opus/48000/2") if kind == "audio" else (96, "VP8/90000")
        lines += [f"m={kind} 9 UDP/TLS/RTP/SAVPF {pt}", "c=IN IP4 0.0.0.0", f"a=ice-ufrag:{ufrag}",
                  "a=ice-pwd:browserPassword012345678", f"a=fingerprint:sha-256 {BROWSER_FP}", "a=setup:active",
                  f"a=mid:{mid}", "a=recvonly", "a=rtcp-mux", f"a=rtpmap:{pt} {codec}"]
    return "\r\n".join(lines) + "\r\n"


class Events(list[tuple[str, dict[str, Any]]]):
    def __call__(self, name: str, params: dict[str, Any]) -> None:
        self.append((name, params))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [p for n, p in self if n == name]


RoomEvents = tuple[Room, Events]


@pytest.fixture
async def room_events() -> AsyncIterator[RoomEvents]:
    events = Events()
    room = Room("r", MuxCore(), CERT.ssl_context(), CERT.fingerprint, "127.0.0.1", 9, events, 1_000_000,
                detached_window=60.0)
    try:
        yield room, events
    finally:
        room.close()


def publishing_pair(room: Room) -> tuple[Participant, Participant]:
    alice, bob = room.join("alice", "Alice", owner=1), room.join("bob", "Bob", owner=1)
    room.publish(alice, CHROME_OFFER)
    return alice, bob


async def test_a_malformed_answer_ends_that_negotiation_and_a_fresh_offer_follows(room_events: RoomEvents) -> None:
    room, events = room_events
    _, bob = publishing_pair(room)
    offer, offer_id = bob.create_subscriber_offer()
    before = len(events.named("renegotiation_needed"))
    with pytest.raises(ValueError):
        bob.apply_subscriber_answer("v=0\r\nthis is not sdp\r\n", offer_id)
    assert not bob.subscribing.negotiating and bob.subscribing.negotiation_failures == 1
    assert len(events.named("renegotiation_needed")) == before + 1  # asks for the next offer itself
    offer, offer_id = bob.create_subscriber_offer()
    bob.apply_subscriber_answer(answer_for(offer), offer_id)
    assert all(sub.negotiated for sub in bob.subscribing.subscriptions.values())
    assert len(bob.subscribing.subscriptions) == 2


async def test_an_unanswered_offer_times_out_and_is_made_again(room_events: RoomEvents) -> None:
    room, events = room_events
    _, bob = publishing_pair(room)
    bob.create_subscriber_offer()
    before = len(events.named("renegotiation_needed"))
    now = time.monotonic()
    bob.subscribing.check_answer_timeout(now + 5)
    assert bob.subscribing.negotiating  # still within its 10 s
    bob.subscribing.check_answer_timeout(now + 11)
    assert not bob.subscribing.negotiating and bob.subscribing.answer_timeouts == 1
    assert len(events.named("renegotiation_needed")) == before + 1


async def test_a_restart_offer_replaces_an_outstanding_one_and_the_old_answer_is_stale(room_events: RoomEvents) -> None:
    room, _ = room_events
    _, bob = publishing_pair(room)
    first, first_id = bob.create_subscriber_offer()
    second, second_id = bob.create_subscriber_offer(ice_restart=True)
    assert second_id == first_id + 1
    with pytest.raises(StaleAnswer):
        bob.apply_subscriber_answer(answer_for(first), first_id)
    bob.apply_subscriber_answer(answer_for(second), second_id)
    assert not bob.subscribing.negotiating


async def test_an_ice_restart_offer_carries_new_credentials(room_events: RoomEvents) -> None:
    room, _ = room_events
    _, bob = publishing_pair(room)
    offer, offer_id = bob.create_subscriber_offer()
    bob.apply_subscriber_answer(answer_for(offer), offer_id)
    bob.subscriber_transport.state = "disconnected"  # as after consent was lost
    old = parse_sdp(offer).media[0].ice_ufrag
    assert old is not None  # our offers always carry one
    restart, _ = bob.create_subscriber_offer(ice_restart=True)
    new = parse_sdp(restart).media[0].ice_ufrag
    assert new != old and new == bob.subscriber_transport.local_ufrag
    assert bob.subscriber_transport.pwd_for(old) is not None  # valid until the browser uses the new ones


async def test_a_publisher_offer_with_a_new_ice_ufrag_is_an_ice_restart(room_events: RoomEvents) -> None:
    room, _ = room_events
    alice, _ = publishing_pair(room)
    first_ufrag = alice.publisher_transport.local_ufrag
    room.publish(alice, CHROME_OFFER)  # the same offer again: no restart
    assert alice.publisher_transport.local_ufrag == first_ufrag
    restarted = CHROME_OFFER.replace(f"a=ice-ufrag:{parse_sdp(CHROME_OFFER).media[0].ice_ufrag}", "a=ice-ufrag:NEWU")
    answer = room.publish(alice, restarted)
    assert alice.publisher_transport.local_ufrag != first_ufrag
    assert f"a=ice-ufrag:{alice.publisher_transport.local_ufrag}" in answer
    assert len(alice.publications) == 2  # same publications, nothing re-announced


async def test_participants_of_a_gateway_that_went_away_leave_after_the_window_unless_resumed(
    room_events: RoomEvents,
) -> None:
    room, events = room_events
    alice, bob = publishing_pair(room)
    carol = room.join("carol", "Carol", owner=2)
    now = time.monotonic()
    room.detach_owner(1, now)
    assert alice.detached_at == now and bob.detached_at == now and carol.detached_at is None
    room.resume(bob, owner=3)  # bob's client came back through another gateway
    room.expire_detached(now + 59)
    assert set(room.participants) == {"alice", "bob", "carol"}
    room.expire_detached(now + 61)
    assert set(room.participants) == {"bob", "carol"}
    left = events.named("participant_left")
    assert [p["participant_id"] for p in left] == ["alice"] and "no gateway resumed it" in left[0]["reason"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["join", "leave"]), max_size=20))
def test_a_room_is_empty_since_its_last_departure_and_never_while_someone_is_in(ops: list[str]) -> None:
    import asyncio

    async def run() -> None:
        room = Room("r", MuxCore(), CERT.ssl_context(), CERT.fingerprint, "127.0.0.1", 9, lambda *_: None, 1)
        try:
            count = 0
            for op in ops:
                if op == "join":
                    room.join(f"p{count}", "P")
                    count += 1
                elif room.participants:
                    room.leave(next(iter(room.participants)), "left")
                assert (room.empty_since is None) == bool(room.participants)
        finally:
            room.close()

    asyncio.run(run())


async def test_the_media_server_closes_a_room_nobody_was_in_for_the_departure_timeout() -> None:
    sfu = Sfu(Config(udp_port=0, departure_timeout=20.0), lambda *_: None)
    await sfu.start()
    try:
        sfu.create_room({"room_id": "empty"})
        sfu.create_room({"room_id": "busy"})
        sfu.join({"room_id": "busy", "participant_id": "p", "name": "P"})
        sfu.rooms["empty"].empty_since = time.monotonic() - 19
        sfu._sweep_rooms()
        assert set(sfu.rooms) == {"empty", "busy"}
        sfu.rooms["empty"].empty_since = time.monotonic() - 21
        sfu.rooms["busy"].empty_since = None
        sfu._sweep_rooms()
        assert set(sfu.rooms) == {"busy"} and sfu.rooms_closed_empty == 1
    finally:
        await sfu.close()
