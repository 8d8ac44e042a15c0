"""Codec choice in a room: the room's preference, what each subscriber decodes, and asking a publisher to switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mediaserver import control_protocol as proto
from mediaserver.rooms.participant import Participant
from mediaserver.rooms.room import Room
from mediaserver.sdp.model import Codec, MediaSection, SessionDescription, parse_sdp
from mediaserver.transport.certificate import Certificate
from mediaserver.transport.udp_mux import UdpMux

CHROME_OFFER = (Path(__file__).parents[1] / "sdp" / "data" / "chrome156_offer_audio_simulcast_video.sdp").read_text()
BROWSER_FP = ":".join(["C3"] * 32)
NAMES = {"VP8": 96, "H264": 102, "opus": 111}


def room_with(codecs: tuple[str, ...]) -> tuple[Room, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    cert = Certificate.generate()
    room = Room("r", UdpMux(), cert.ssl_context(), cert.fingerprint, "127.0.0.1", 9,
                lambda name, params: events.append((name, params)), 1_000_000, video_codecs=codecs)
    return room, events


def answer_to(offer_text: str, decodes: set[str]) -> str:
    """What a browser decoding only `decodes` (and Opus) answers to the server's subscriber offer."""
    offer = parse_sdp(offer_text)
    answer = SessionDescription(origin="- 1 2 IN IP4 127.0.0.1", groups=offer.groups)
    for media in offer.media:
        section = MediaSection(kind=media.kind, port=9, proto=media.proto, mid=media.mid, direction="recvonly")
        section.connection, section.rtcp_mux, section.setup = "IN IP4 0.0.0.0", True, "active"
        section.ice_ufrag, section.ice_pwd = "brwS", "browserPassword012345678"
        section.fingerprint = ("sha-256", BROWSER_FP)
        wanted = {"opus"} if media.kind == "audio" else decodes
        section.codecs = [Codec(NAMES[c.name], c.name, c.clock_rate, c.channels) for c in media.codecs
                          if c.name in wanted]
        section.formats = [c.payload_type for c in section.codecs]
        answer.media.append(section)
    return answer.serialize()


def negotiate(participant: Participant, decodes: set[str]) -> None:
    offer, offer_id = participant.create_subscriber_offer()
    participant.apply_subscriber_answer(answer_to(offer, decodes), offer_id)


def video_of(participant: Participant) -> Any:
    return next(p for p in participant.publications.values() if p.kind == "video")


def named(events: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [params for event, params in events if event == name]


@pytest.mark.parametrize(("preference", "codec"), [(("VP8", "H264"), "VP8"), (("H264", "VP8"), "H264"),
                                                  (("H264",), "H264")])
async def test_a_publisher_sends_the_rooms_preferred_codec_when_everyone_decodes_it(
        preference: tuple[str, ...], codec: str) -> None:
    room, _ = room_with(preference)
    bob = room.join("bob", "Bob")
    negotiate(bob, {"VP8", "H264"})
    alice = room.join("alice", "Alice")
    room.publish(alice, CHROME_OFFER)
    assert video_of(alice).codec_name == codec
    negotiate(bob, {"VP8", "H264"})
    sub = bob.subscribing.subscriptions[video_of(alice).id]
    assert sub.negotiated and sub.payload_type == NAMES[codec] and not bob.subscribing.undecodable
    room.close()


async def test_a_subscriber_without_h264_gets_an_event_and_the_publisher_is_asked_for_vp8() -> None:
    room, events = room_with(("H264", "VP8"))
    alice = room.join("alice", "Alice")
    room.publish(alice, CHROME_OFFER)
    h264 = video_of(alice)
    assert h264.codec_name == "H264" and h264.offered_codecs == ("VP8", "H264")
    carol = room.join("carol", "Carol")  # Firefox without OpenH264: answers VP8 only
    negotiate(carol, {"VP8"})
    assert carol.subscribing.video_decodes == frozenset({"VP8"})
    sub = carol.subscribing.subscriptions[h264.id]
    assert not sub.negotiated and not sub.active  # never forwarded: it would be a black tile
    assert named(events, proto.TRACK_UNDECODABLE) == [{
        "room_id": "r", "participant_id": "carol", "publisher_id": "alice", "track_id": h264.id, "kind": "video",
        "codec": "H264", "active": True}]
    assert [e["participant_id"] for e in named(events, proto.PUBLISHER_RENEGOTIATE)] == ["alice"]

    # Alice's browser offers again: now VP8 comes first, as one participant decodes nothing else.
    room.publish(alice, CHROME_OFFER)
    vp8 = video_of(alice)
    assert vp8.codec_name == "VP8" and vp8.id != h264.id
    assert [e["track_id"] for e in named(events, proto.TRACK_UNPUBLISHED)] == [h264.id]
    assert h264.id not in carol.subscribing.subscriptions and not carol.subscribing.undecodable
    # Carol's client takes the placeholder away: the track it stood for is gone.
    assert [(e["track_id"], e["active"]) for e in named(events, proto.TRACK_UNDECODABLE)] == [
        (h264.id, True), (h264.id, False)]
    negotiate(carol, {"VP8"})
    assert carol.subscribing.subscriptions[vp8.id].negotiated
    assert len(named(events, proto.TRACK_UNDECODABLE)) == 2  # nothing new to report
    room.close()


async def test_an_h264_only_publisher_stays_h264_and_only_the_subscriber_who_cannot_decode_it_is_told() -> None:
    room, events = room_with(("VP8", "H264"))
    alice = room.join("alice", "Alice")
    h264_only = "\r\n".join(line for line in CHROME_OFFER.splitlines()
                            if not line.startswith(("a=rtpmap:96 ", "a=rtpmap:97 ")))
    room.publish(alice, h264_only)
    assert video_of(alice).codec_name == "H264" and video_of(alice).offered_codecs == ("H264",)
    bob, carol = room.join("bob", "Bob"), room.join("carol", "Carol")
    negotiate(bob, {"VP8", "H264"})
    negotiate(carol, {"VP8"})
    assert bob.subscribing.subscriptions[video_of(alice).id].negotiated
    assert [e["participant_id"] for e in named(events, proto.TRACK_UNDECODABLE)] == ["carol"]
    assert named(events, proto.PUBLISHER_RENEGOTIATE) == []  # she has nothing else to send
    room.close()


async def test_the_rooms_preference_never_stops_a_publisher_that_lacks_it() -> None:
    room, _ = room_with(("H264",))
    fox = room.join("fox", "Fox")
    vp8_only = "\r\n".join(line for line in CHROME_OFFER.splitlines()
                           if not line.startswith(("a=rtpmap:102 ", "a=rtpmap:108 ")))
    room.publish(fox, vp8_only)
    assert video_of(fox).codec_name == "VP8"
    room.close()
