"""Tests for subscriber offers (0/1/3 slots, inactive slot reuse) and checking the browser's answers."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription as AiortcSdp

from mediaserver.sdp.identity import URI_AUDIO_LEVEL, URI_MID, URI_TRANSPORT_CC
from mediaserver.sdp.model import SdpError, parse_sdp
from mediaserver.sdp.negotiation import (
    InactiveSlot,
    OutboundTrack,
    PeerIdentity,
    ServerIdentity,
    Slot,
    build_subscriber_offer,
    check_slot_order,
    parse_subscriber_answer,
)

ALICE_MIC = OutboundTrack("0", "audio", 1111, None, "alice", "alice-mic", "alicecname")
ALICE_CAM = OutboundTrack("1", "video", 2222, 2223, "alice", "alice-cam", "alicecname")
BOB_CAM = OutboundTrack("2", "video", 3333, None, "bob", "bob-cam", "bobcname")


def blocks(text: str) -> list[list[str]]:
    result: list[list[str]] = []
    for line in text[:-2].split("\r\n"):
        if line.startswith("m="):
            result.append([line])
        elif result:
            result[-1].append(line)
    return result


def test_zero_slots(server: ServerIdentity) -> None:
    text = build_subscriber_offer([], server, session_version=1, session_id=77)
    assert text == (
        "v=0\r\no=- 77 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\na=extmap-allow-mixed\r\n"
        "a=msid-semantic: WMS *\r\n"
    )
    assert parse_sdp(text).media == []
    assert AiortcSdp.parse(text).media == []
    assert parse_subscriber_answer("v=0\r\no=- 5 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n", []) is None


def test_one_audio_slot(server: ServerIdentity) -> None:
    text = build_subscriber_offer([ALICE_MIC], server, session_version=3, session_id=77)
    d = parse_sdp(text)
    assert d.ice_lite and d.groups == [("BUNDLE", ["0"])] and d.origin == "- 77 3 IN IP4 127.0.0.1"
    (m,) = d.media
    assert (m.kind, m.port, m.proto, m.mid, m.direction) == ("audio", 9, "UDP/TLS/RTP/SAVPF", "0", "sendonly")
    assert m.formats == [111]
    assert (m.codecs[0].name, m.codecs[0].clock_rate, m.codecs[0].channels) == ("opus", 48000, 2)
    assert m.codecs[0].fmtp == "minptime=10;useinbandfec=1" and m.codecs[0].rtcp_fb == []
    assert m.extmaps == {1: URI_AUDIO_LEVEL, 4: URI_MID}
    assert m.msid == "alice alice-mic"
    assert m.ssrcs == {1111: {"cname": "alicecname", "msid": "alice alice-mic"}}
    assert m.ssrc_groups == []
    assert (m.setup, m.rtcp_mux, m.rtcp_rsize) == ("actpass", True, True)
    assert (m.ice_ufrag, m.ice_pwd) == (server.ice_ufrag, server.ice_pwd)
    assert m.fingerprint == ("sha-256", server.fingerprint)
    assert m.candidates == ["1 1 udp 2130706431 198.51.100.7 3478 typ host"] and m.end_of_candidates
    assert "a=ssrc:1111 cname:alicecname" in text and "a=ssrc:1111 msid:alice alice-mic" in text
    assert AiortcSdp.parse(text).media[0].ssrc[0].cname == "alicecname"


def test_three_slots(server: ServerIdentity) -> None:
    text = build_subscriber_offer([ALICE_MIC, ALICE_CAM, BOB_CAM], server, session_version=1, session_id=1)
    assert "a=group:BUNDLE 0 1 2\r\n" in text
    assert "goog-remb" not in text and "abs-send-time" not in text
    _, cam, bob = blocks(text)
    assert cam[0] == "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103"
    for line in [
        "a=sendonly",
        "a=msid:alice alice-cam",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 transport-cc",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "a=ssrc-group:FID 2222 2223",
        "a=ssrc:2222 cname:alicecname",
        "a=ssrc:2222 msid:alice alice-cam",
        "a=ssrc:2223 cname:alicecname",
        "a=ssrc:2223 msid:alice alice-cam",
        f"a=extmap:3 {URI_TRANSPORT_CC}",
        f"a=extmap:4 {URI_MID}",
    ]:
        assert line in cam, line
    assert not any("ssrc-audio-level" in line for line in cam)
    assert "a=ssrc-group:FID" not in "\r\n".join(bob) and "a=ssrc:3333 cname:bobcname" in bob
    parsed = AiortcSdp.parse(text)
    assert [m.rtp.muxId for m in parsed.media] == ["0", "1", "2"]
    assert parsed.media[1].ssrc_group[0].items == [2222, 2223]


def test_inactive_slot_keeps_mid_and_order_and_is_reused(server: ServerIdentity) -> None:
    first: list[Slot] = [ALICE_MIC, ALICE_CAM, BOB_CAM]
    second: list[Slot] = [ALICE_MIC, InactiveSlot("1", "video"), BOB_CAM]
    carol = OutboundTrack("1", "video", 4444, 4445, "carol", "carol-cam", "carolcname")
    third: list[Slot] = [ALICE_MIC, carol, BOB_CAM, OutboundTrack("3", "audio", 5555, None, "carol", "m", "c")]
    check_slot_order(first, second)
    check_slot_order(second, third)
    offers = [parse_sdp(build_subscriber_offer(s, server, v, 9)) for v, s in enumerate((first, second, third))]
    assert [[m.mid for m in o.media] for o in offers] == [["0", "1", "2"], ["0", "1", "2"], ["0", "1", "2", "3"]]
    assert [[m.kind for m in o.media][:3] for o in offers] == [["audio", "video", "video"]] * 3

    inactive = offers[1].media[1]
    assert (inactive.direction, inactive.port, inactive.msid, inactive.ssrcs) == ("inactive", 9, None, {})
    assert inactive.formats == [96, 97, 102, 103] and inactive.candidates
    assert offers[1].bundle_mids() == ["0", "1", "2"]

    reused = offers[2].media[1]
    assert (reused.direction, reused.msid) == ("sendonly", "carol carol-cam")
    assert list(reused.ssrcs) == [4444, 4445]
    assert offers[2].bundle_mids() == ["0", "1", "2", "3"]
    assert [o.origin.split()[2] for o in offers] == ["0", "1", "2"]


def test_check_slot_order_rejects_changes() -> None:
    base: list[Slot] = [ALICE_MIC, ALICE_CAM]
    with pytest.raises(ValueError, match="fewer"):
        check_slot_order(base, [ALICE_MIC])
    with pytest.raises(ValueError, match="changed"):
        check_slot_order(base, [ALICE_CAM, ALICE_MIC])
    with pytest.raises(ValueError, match="changed"):
        check_slot_order(base, [ALICE_MIC, InactiveSlot("1", "audio")])


@pytest.mark.parametrize(
    ("slots", "message"),
    [
        ([ALICE_MIC, OutboundTrack("0", "video", 9, None, "s", "t", "c")], "used twice"),
        ([InactiveSlot("0", "screen")], "kind must be"),
        ([OutboundTrack("0", "audio", 1, 2, "s", "t", "c")], "only video carries rtx"),
        ([OutboundTrack("0", "video", 1, 1, "s", "t", "c")], "already used"),
        ([OutboundTrack("0", "audio", 0, None, "s", "t", "c")], "out of range"),
        ([OutboundTrack("0", "audio", 1, None, "s s", "t", "c")], "msid part"),
        ([OutboundTrack("0", "audio", 1, None, "s", "t", "c name")], "cname"),
        ([InactiveSlot("abcdefghijklmnopq", "audio")], "token characters"),
        ([InactiveSlot("", "audio")], "token characters"),
    ],
)
def test_bad_slots(server: ServerIdentity, slots: list[Slot], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_subscriber_offer(slots, server, 1, 1)


async def _aiortc_answer(offer: str) -> str:
    pc = RTCPeerConnection()
    try:
        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def test_aiortc_answers_our_offer(server: ServerIdentity) -> None:
    slots: list[Slot] = [ALICE_MIC, ALICE_CAM, InactiveSlot("2", "video")]
    answer = asyncio.run(_aiortc_answer(build_subscriber_offer(slots, server, 1, 1)))
    peer = parse_subscriber_answer(answer, ["0", "1", "2"])
    assert peer is not None
    d = parse_sdp(answer)
    assert peer.ice_ufrag == d.media[0].ice_ufrag
    assert peer.fingerprint[0] == "sha-256" and peer.fingerprint == d.media[0].fingerprint
    with pytest.raises(SdpError, match="differ from the offered"):
        parse_subscriber_answer(answer, ["0", "1"])


BROWSER_FP = ":".join(["C3"] * 32)


def chrome_style_answer(*mids: str, edit: dict[str, str] | None = None) -> str:
    """A Chrome-shaped recvonly answer; `edit` maps a line prefix to its replacement ("" drops the line)."""
    lines = ["v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    lines += [f"a=group:BUNDLE {' '.join(mids)}", "a=extmap-allow-mixed", "a=msid-semantic: WMS"]
    for mid in mids:
        kind, pt = ("audio", 111) if mid.startswith("a") else ("video", 96)
        lines += [
            f"m={kind} 9 UDP/TLS/RTP/SAVPF {pt}",
            "c=IN IP4 0.0.0.0",
            "a=ice-ufrag:brwS",
            "a=ice-pwd:browserPassword012345678",
            f"a=fingerprint:sha-256 {BROWSER_FP}",
            "a=setup:active",
            f"a=mid:{mid}",
            "a=recvonly",
            "a=rtcp-mux",
            f"a=rtpmap:{pt} {'opus/48000/2' if kind == 'audio' else 'VP8/90000'}",
        ]
    for prefix, replacement in (edit or {}).items():
        lines = [replacement if line.startswith(prefix) else line for line in lines]
    return "\r\n".join(line for line in lines if line) + "\r\n"


def test_chrome_style_answer_accepted() -> None:
    peer = parse_subscriber_answer(chrome_style_answer("a0", "v1"), ["a0", "v1"])
    assert peer == PeerIdentity("brwS", "browserPassword012345678", ("sha-256", BROWSER_FP))
    inactive = chrome_style_answer("a0", "v1").replace("a=recvonly", "a=inactive")
    assert parse_subscriber_answer(inactive, ["a0", "v1"]) == peer


ANSWER_CASES = [
    pytest.param(chrome_style_answer("v1", "a0"), ["a0", "v1"], "differ from the offered", id="order"),
    pytest.param(chrome_style_answer("a0"), ["a0", "v1"], "differ from the offered", id="count"),
    pytest.param(
        chrome_style_answer("a0", "v1", edit={"m=video": "m=video 0 UDP/TLS/RTP/SAVPF 96"}),
        ["a0", "v1"],
        "rejected",
        id="port0",
    ),
    pytest.param(chrome_style_answer("a0", edit={"a=recvonly": "a=sendrecv"}), ["a0"], "only receives", id="dir"),
    pytest.param(chrome_style_answer("a0", edit={"a=setup": "a=setup:passive"}), ["a0"], "DTLS client", id="setup"),
    pytest.param(chrome_style_answer("a0", edit={"a=fingerprint": ""}), ["a0"], "no a=fingerprint", id="nofp"),
    pytest.param(
        chrome_style_answer("a0", edit={"a=fingerprint": "a=fingerprint:sha-384 AA"}),
        ["a0"],
        "only sha-256",
        id="sha384",
    ),
    pytest.param(chrome_style_answer("a0", edit={"a=ice-pwd": ""}), ["a0"], "no a=ice-ufrag/a=ice-pwd", id="nopwd"),
    pytest.param(chrome_style_answer("a0", edit={"a=rtcp-mux": ""}), ["a0"], "no a=rtcp-mux", id="nomux"),
    pytest.param(chrome_style_answer("a0", edit={"a=group": ""}), ["a0"], None, id="single-unbundled-ok"),
    pytest.param(chrome_style_answer("a0", "v1", edit={"a=group": ""}), ["a0", "v1"], "does not bundle", id="nobundle"),
    pytest.param(
        chrome_style_answer("a0", "v1", edit={"a=group": "a=group:BUNDLE a0"}),
        ["a0", "v1"],
        "does not bundle",
        id="partial-bundle",
    ),
    pytest.param(
        chrome_style_answer("a0", edit={"m=audio": "m=audio 9 UDP/TLS/RTP/SAVPF 111 0"}), ["a0"], None, id="extra-pt"
    ),
    pytest.param(
        chrome_style_answer("v1", edit={"m=video": "m=video 9 UDP/TLS/RTP/SAVPF 98", "a=rtpmap": ""}),
        ["v1"],
        "none of the offered video codecs",
        id="codec-missing",
    ),
    pytest.param(chrome_style_answer("a0", edit={"a=extmap-allow-mixed": "a=ice-lite"}), ["a0"], "ICE-lite", id="lite"),
    pytest.param("garbage", ["a0"], "expected '<letter>=<value>'", id="garbage"),
]


@pytest.mark.parametrize(("answer", "mids", "message"), ANSWER_CASES)
def test_subscriber_answer_checks(answer: str, mids: list[str], message: str | None) -> None:
    if message is None:
        assert parse_subscriber_answer(answer, mids) is not None
        return
    with pytest.raises(SdpError, match=message):
        parse_subscriber_answer(answer, mids)
