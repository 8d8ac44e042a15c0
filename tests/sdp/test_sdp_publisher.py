"""Tests for answering publisher offers: Chrome simulcast, aiortc, a Firefox-style offer and every refusal."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription as AiortcSdp

from benchmarks.loadtest.attacks import with_extra_sections
from mediaserver.sdp.identity import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_REPAIRED_RID,
    URI_RID,
    URI_TRANSPORT_CC,
    announced_addresses,
)
from mediaserver.sdp.model import SdpError, parse_sdp
from mediaserver.sdp.negotiation import (
    NegotiatedMedia,
    PeerIdentity,
    ServerIdentity,
    answer_publisher_offer,
    random_ice_credentials,
    sha256_fingerprint,
)
from mediaserver.sdp.publisher import MAX_OFFER_SECTIONS, MAX_PUBLISHED_SECTIONS

CHROME_FP = "AE:44:76:DE:4B:F0:A7:AB:7B:85:0F:B1:68:1C:04:08:46:7E:86:76:2F:0A:CD:FF:9D:D0:5A:26:A7:59:3E:09"
CHROME_STREAM = "dfcfacee-c980-47a9-b69c-d41f0ac1a79f"


def answer_lines(text: str) -> list[str]:
    assert text.endswith("\r\n")
    return text[:-2].split("\r\n")


def media_blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in answer_lines(text):
        if line.startswith("m="):
            blocks.append([line])
        elif blocks:
            blocks[-1].append(line)
    return blocks


def test_chrome_simulcast_answer_text(chrome_offer: str, server: ServerIdentity) -> None:
    answer, _, _ = answer_publisher_offer(chrome_offer, server, session_id=42)
    lines = answer_lines(answer)
    session = lines[: lines.index("m=audio 9 UDP/TLS/RTP/SAVPF 111")]
    assert session[:4] == ["v=0", "o=- 42 1 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    assert "a=ice-lite" in session
    assert "a=group:BUNDLE 0 1" in session
    assert "a=extmap-allow-mixed" in session
    assert "a=msid-semantic: WMS *" in session

    audio, video = media_blocks(answer)
    candidate = "a=candidate:1 1 udp 2130706431 198.51.100.7 3478 typ host"
    for block in (audio, video):
        assert "a=setup:passive" in block
        assert "a=rtcp-mux" in block and "a=rtcp-rsize" in block
        assert "a=recvonly" in block
        assert "a=ice-ufrag:srvUfrag" in block and "a=ice-pwd:ServerPassword0123456789" in block
        assert f"a=fingerprint:sha-256 {server.fingerprint}" in block
        assert candidate in block and "a=end-of-candidates" in block
        assert not any(line.startswith("a=msid") or line.startswith("a=ssrc") for line in block)

    assert audio[0] == "m=audio 9 UDP/TLS/RTP/SAVPF 111"
    assert "a=mid:0" in audio
    assert "a=rtpmap:111 opus/48000/2" in audio
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in audio
    # Transport-wide feedback covers audio too (the publisher side sends it, rooms/publishing.py); nothing else.
    assert [line for line in audio if line.startswith("a=rtcp-fb")] == ["a=rtcp-fb:111 transport-cc"]
    assert [line for line in audio if line.startswith("a=extmap")] == [
        f"a=extmap:1 {URI_AUDIO_LEVEL}",
        f"a=extmap:2 {URI_ABS_SEND_TIME}",
        f"a=extmap:3 {URI_TRANSPORT_CC}",
        f"a=extmap:4 {URI_MID}",
    ]

    assert video[0] == "m=video 9 UDP/TLS/RTP/SAVPF 96 97"
    assert "a=mid:1" in video
    assert [line for line in video if line.startswith("a=extmap")] == [
        f"a=extmap:2 {URI_ABS_SEND_TIME}",
        f"a=extmap:3 {URI_TRANSPORT_CC}",
        f"a=extmap:4 {URI_MID}",
        f"a=extmap:10 {URI_RID}",
        f"a=extmap:11 {URI_REPAIRED_RID}",
    ]
    assert "a=rtpmap:96 VP8/90000" in video
    assert "a=fmtp:96 x-google-start-bitrate=2500" in video
    assert sorted(line for line in video if line.startswith("a=rtcp-fb")) == [
        "a=rtcp-fb:96 ccm fir",
        "a=rtcp-fb:96 goog-remb",
        "a=rtcp-fb:96 nack",
        "a=rtcp-fb:96 nack pli",
        "a=rtcp-fb:96 transport-cc",
    ]
    assert "a=rtpmap:97 rtx/90000" in video and "a=fmtp:97 apt=96" in video
    rid_lines = [line for line in video if line.startswith("a=rid") or line.startswith("a=simulcast")]
    assert rid_lines == ["a=rid:q recv", "a=rid:h recv", "a=rid:f recv", "a=simulcast:recv q;h;f"]


def test_chrome_answer_negotiated_values(chrome_offer: str, server: ServerIdentity) -> None:
    _, peer, media = answer_publisher_offer(chrome_offer, server)
    assert peer == PeerIdentity("HI5C", "pYpBtzqbyTnt2XotNX7mKY36", ("sha-256", CHROME_FP))
    assert media == [
        NegotiatedMedia(
            mid="0",
            kind="audio",
            payload_type=111,
            rtx_payload_type=None,
            clock_rate=48000,
            ext_ids={URI_AUDIO_LEVEL: 1, URI_ABS_SEND_TIME: 2, URI_TRANSPORT_CC: 3, URI_MID: 4},
            codec="opus",
            offered_codecs=("opus",),
            rids=[],
            ssrcs=[4117577166],
            rtx_ssrcs={},
            msid=f"{CHROME_STREAM} 832176e0-3057-43bc-9d26-3e516f1be6ac",
        ),
        NegotiatedMedia(
            mid="1",
            kind="video",
            payload_type=96,
            rtx_payload_type=97,
            clock_rate=90000,
            ext_ids={URI_ABS_SEND_TIME: 2, URI_TRANSPORT_CC: 3, URI_MID: 4, URI_RID: 10, URI_REPAIRED_RID: 11},
            codec="VP8",
            offered_codecs=("VP8", "H264"),
            rids=["q", "h", "f"],
            ssrcs=[],
            rtx_ssrcs={},
            msid=f"{CHROME_STREAM} 0b0fd029-3c52-4c23-b8b6-85ed46155746",
        ),
    ]


def test_chrome_answer_is_parseable_by_both_parsers(chrome_offer: str, server: ServerIdentity) -> None:
    answer, _, _ = answer_publisher_offer(chrome_offer, server)
    ours = parse_sdp(answer)
    assert ours.ice_lite and ours.bundle_mids() == ["0", "1"]
    video = ours.media[1]
    assert video.simulcast == "recv q;h;f" and [r.direction for r in video.rids] == ["recv"] * 3
    assert parse_sdp(ours.serialize()) == ours

    theirs = AiortcSdp.parse(answer)
    assert [m.kind for m in theirs.media] == ["audio", "video"]
    ice = theirs.media[0].ice
    assert ice is not None and ice.iceLite is True
    assert ice.usernameFragment == "srvUfrag"
    assert theirs.media[1].rtp.codecs[0].mimeType == "video/VP8"
    assert theirs.media[1].rtp.codecs[0].parameters == {"x-google-start-bitrate": "2500"}
    assert theirs.media[0].dtls is not None and theirs.media[0].dtls.role == "server"
    assert [c.ip for c in theirs.media[0].ice_candidates] == ["198.51.100.7"]
    assert {e.id for e in theirs.media[1].rtp.headerExtensions} == {2, 3, 4, 10, 11}


def test_aiortc_offer_is_accepted(aiortc_offer: str, server: ServerIdentity) -> None:
    offer = parse_sdp(aiortc_offer)
    answer, peer, media = answer_publisher_offer(aiortc_offer, server)
    sha256 = next(fp for alg, fp in offer.media[0].effective_fingerprints(offer) if alg == "sha-256")
    assert peer.fingerprint == ("sha-256", sha256)
    assert (peer.ice_ufrag, peer.ice_pwd) == offer.media[0].effective_ice(offer)
    audio, video = media
    assert (audio.kind, audio.payload_type, audio.rtx_payload_type) == ("audio", 96, None)
    assert audio.ssrcs == list(offer.media[0].ssrcs)
    assert (video.kind, video.payload_type, video.rtx_payload_type) == ("video", 97, 98)
    (fid,) = offer.media[1].ssrc_groups
    assert video.ssrcs == [fid[1][0]] and video.rtx_ssrcs == {fid[1][0]: fid[1][1]}
    assert video.rids == []
    assert video.msid == offer.media[1].msid
    assert audio.ext_ids == {URI_MID: 1, URI_AUDIO_LEVEL: 2}
    assert video.ext_ids == {URI_MID: 1, URI_ABS_SEND_TIME: 3}
    assert "a=simulcast" not in answer and "a=rid" not in answer
    assert "a=rtpmap:96 opus/48000/2" in answer
    assert "a=rtpmap:97 VP8/90000" in answer and "a=fmtp:98 apt=97" in answer
    assert "a=fmtp:97 x-google-start-bitrate=2500" in answer
    AiortcSdp.parse(answer)


async def _aiortc_applies_answer() -> None:
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        pc.addTransceiver("video", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        server = ServerIdentity("srvUfrag", "ServerPassword0123456789", ":".join(["AB"] * 32), "127.0.0.1", 9)
        answer, _, _ = answer_publisher_offer(pc.localDescription.sdp, server)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        assert [t.currentDirection for t in pc.getTransceivers()] == ["sendonly", "sendonly"]
    finally:
        await pc.close()


def test_aiortc_applies_our_answer() -> None:
    asyncio.run(_aiortc_applies_answer())


FIREFOX_STYLE_OFFER = """v=0
o=mozilla...THIS_IS_SDPARTA-99.0 5470813399364374428 0 IN IP4 0.0.0.0
s=-
t=0 0
a=sendrecv
a=fingerprint:sha-256 FIREFOX_FP
a=group:BUNDLE 0 1
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 0.0.0.0
a=sendonly
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:6c9f3bb2e3c9e1c7e40b86d4f1c3e0a2
a=ice-ufrag:5b3e2a1f
a=mid:0
a=msid:{d1e5b0a5-1c1b-4a5c-9b0e-5f4c3d2b1a00} {0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9}
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=setup:actpass
a=ssrc:2655508255 cname:{b7a0c2f1-3d4e-4f5a-8b9c-0d1e2f3a4b5c}
m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98
c=IN IP4 0.0.0.0
a=sendonly
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:5 urn:ietf:params:rtp-hdrext:toffset
a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:8 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id
a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id
a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1
a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1
a=fmtp:120 max-fs=12288;max-fr=60
a=fmtp:124 apt=120
a=fmtp:121 max-fs=12288;max-fr=60
a=fmtp:125 apt=121
a=fmtp:127 apt=126
a=fmtp:98 apt=97
a=ice-pwd:6c9f3bb2e3c9e1c7e40b86d4f1c3e0a2
a=ice-ufrag:5b3e2a1f
a=mid:1
a=msid:{d1e5b0a5-1c1b-4a5c-9b0e-5f4c3d2b1a00} {1b2c3d4e-5f60-7182-93a4-b5c6d7e8f90a}
a=rid:lo send
a=rid:mid send
a=rid:hi send
a=rtcp-fb:120 nack
a=rtcp-fb:120 nack pli
a=rtcp-fb:120 ccm fir
a=rtcp-fb:120 goog-remb
a=rtcp-fb:120 transport-cc
a=rtcp-fb:121 nack
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:120 VP8/90000
a=rtpmap:124 rtx/90000
a=rtpmap:121 VP9/90000
a=rtpmap:125 rtx/90000
a=rtpmap:126 H264/90000
a=rtpmap:127 rtx/90000
a=rtpmap:97 H264/90000
a=rtpmap:98 rtx/90000
a=setup:actpass
a=simulcast:send lo;mid;~hi
"""


# Mixed case on purpose: the peer fingerprint comes back upper-cased.
FIREFOX_FP = "0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D:4E:5F:60:71:82:93:a4:b5:c6:d7:e8:f9"


def test_firefox_style_offer(server: ServerIdentity) -> None:
    """Hand-written after Firefox's layout: session-level fingerprint, directional extmaps, paused rid."""
    offer = FIREFOX_STYLE_OFFER.replace("FIREFOX_FP", FIREFOX_FP)
    answer, peer, media = answer_publisher_offer(offer, server)
    assert peer.ice_ufrag == "5b3e2a1f"
    assert peer.fingerprint == ("sha-256", FIREFOX_FP.upper())
    audio, video = media
    assert (audio.payload_type, audio.ext_ids) == (109, {URI_AUDIO_LEVEL: 1, URI_MID: 3})
    assert (video.payload_type, video.rtx_payload_type) == (120, 124)
    assert video.rids == ["lo", "mid", "hi"]
    assert "a=simulcast:recv lo;mid;hi" in answer
    assert "csrc-audio-level" not in answer and "playout-delay" not in answer
    _, answered_video = media_blocks(answer)
    assert f"a=extmap:7 {URI_TRANSPORT_CC}" in answered_video and "a=rtcp-fb:120 transport-cc" in answered_video
    assert "a=fmtp:120 x-google-start-bitrate=2500" in answer
    AiortcSdp.parse(answer)


def make_offer(chrome_offer: str, *replacements: tuple[str, str]) -> str:
    text = chrome_offer
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


# Chrome's full video format list from the fixture.
VIDEO_M_LINE = (
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 107 108 109 114 115 116 117 39 40 45 46 98 99 100 101 118 119 120"
)


def _video_only_with(chrome_offer: str, pts: tuple[str, ...]) -> str:
    """Chrome's offer with its video m-line cut down to these payload types (audio untouched)."""
    offer = make_offer(chrome_offer, (VIDEO_M_LINE, f"m=video 9 UDP/TLS/RTP/SAVPF {' '.join(pts)}"))
    keep = (*pts, "111", "63", "9", "0", "8", "13", "110", "126")
    return "\r\n".join(
        line
        for line in offer.split("\r\n")
        if not line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")) or line.split(":")[1].split()[0] in keep
    )


def test_h264_only_video_is_answered_in_h264(chrome_offer: str, server: ServerIdentity) -> None:
    """Safari's and iPhones' case: no VP8 on offer, H.264 (packetization-mode 1) is taken in the offer's numbering."""
    answer, _, media = answer_publisher_offer(_video_only_with(chrome_offer, ("102", "103")), server)
    assert [(m.mid, m.codec, m.payload_type, m.rtx_payload_type) for m in media] == [
        ("0", "opus", 111, None), ("1", "H264", 102, 103)]
    assert media[1].rids == ["q", "h", "f"]  # H.264 simulcast is bound by rid like VP8's
    video = media_blocks(answer)[1]
    assert video[0] == "m=video 9 UDP/TLS/RTP/SAVPF 102 103"
    assert ("a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f;"
            "x-google-start-bitrate=2500") in video
    assert "a=fmtp:103 apt=102" in video
    AiortcSdp.parse(answer)


@pytest.mark.parametrize(
    ("preference", "expected"),
    [(("VP8", "H264"), ("VP8", 96, 97)), (("H264", "VP8"), ("H264", 108, 109)), (("H264",), ("H264", 108, 109))],
)
def test_room_preference_picks_the_codec(chrome_offer: str, server: ServerIdentity, preference: tuple[str, ...],
                                         expected: tuple[str, int, int]) -> None:
    """Chrome offers VP8 and six H.264 formats: constrained baseline with packetization-mode 1 (108) wins."""
    _, _, media = answer_publisher_offer(chrome_offer, server, video_codecs=preference)
    video = media[1]
    assert (video.codec, video.payload_type, video.rtx_payload_type) == expected
    assert video.offered_codecs == ("VP8", "H264")


@pytest.mark.parametrize(
    "pts",
    [("100", "101"), ("104", "107"), ("116", "117")],
    ids=["vp9-only", "h264-packetization-mode-0", "h264-main-profile"],
)
def test_video_without_a_forwardable_codec_is_rejected_but_kept(chrome_offer: str, server: ServerIdentity,
                                                                pts: tuple[str, ...]) -> None:
    answer, _, media = answer_publisher_offer(_video_only_with(chrome_offer, pts), server)
    assert [m.mid for m in media] == ["0"]
    video = media_blocks(answer)[1]
    assert video[0] == f"m=video 0 UDP/TLS/RTP/SAVPF {pts[0]}"
    assert "a=mid:1" in video and "a=inactive" in video
    assert not any(line.startswith(("a=candidate", "a=ice-", "a=rid", "a=simulcast")) for line in video)
    assert "a=group:BUNDLE 0\r\n" in answer
    assert parse_sdp(answer).media[1].port == 0
    AiortcSdp.parse(answer)


def test_data_channel_and_stopped_m_lines_are_rejected(chrome_offer: str, server: ServerIdentity) -> None:
    offer = make_offer(
        chrome_offer,
        ("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2"),
        ("m=audio 9 UDP/TLS/RTP/SAVPF", "m=audio 0 UDP/TLS/RTP/SAVPF"),
    )
    offer += "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"
    offer += "a=sctp-port:5000\r\n"
    answer, _, media = answer_publisher_offer(offer, server)
    assert [m.mid for m in media] == ["1"]
    audio, _, app = media_blocks(answer)
    assert audio[0] == "m=audio 0 UDP/TLS/RTP/SAVPF 111" and "a=mid:0" in audio
    assert app[0] == "m=application 0 UDP/DTLS/SCTP webrtc-datachannel" and "a=mid:2" in app
    assert "a=group:BUNDLE 1\r\n" in answer
    AiortcSdp.parse(answer)


@pytest.mark.parametrize(
    ("offered", "answered", "negotiated"),
    [
        ("sendonly", "recvonly", True),
        ("sendrecv", "recvonly", True),
        ("recvonly", "inactive", False),
        ("inactive", "inactive", False),
    ],
)
def test_direction_mapping(
    chrome_offer: str, server: ServerIdentity, offered: str, answered: str, negotiated: bool
) -> None:
    offer = chrome_offer.replace("a=sendonly\r\n", f"a={offered}\r\n")
    answer, _, media = answer_publisher_offer(offer, server)
    assert [block.count(f"a={answered}") for block in media_blocks(answer)] == [1, 1]
    assert len(media) == (2 if negotiated else 0)
    assert "a=group:BUNDLE 0 1" in answer


def test_single_m_line_without_bundle(aiortc_offer: str, server: ServerIdentity) -> None:
    offer = parse_sdp(aiortc_offer)
    offer.media = offer.media[:1]
    offer.groups = []
    answer, _, media = answer_publisher_offer(offer.serialize(), server)
    assert [m.mid for m in media] == ["0"]
    assert "a=group" not in answer


def test_simulcast_variants(chrome_offer: str, server: ServerIdentity) -> None:
    def answer_for(*replacements: tuple[str, str]) -> tuple[str, list[str]]:
        answer, _, media = answer_publisher_offer(make_offer(chrome_offer, *replacements), server)
        return answer, media[1].rids

    answer, rids = answer_for(("a=simulcast:send q;h;f", "a=simulcast:send ~q;h;~f"))
    assert "a=simulcast:recv q;h;f" in answer and rids == ["q", "h", "f"]

    answer, rids = answer_for(("a=simulcast:send q;h;f", "a=simulcast:send q,h;f"))
    assert "a=simulcast:recv q,h;f" in answer and rids == ["q", "h", "f"]

    # A layer restricted to VP9 cannot be received; the others still can.
    answer, rids = answer_for(("a=rid:h send", "a=rid:h send pt=98;max-width=640"))
    assert "a=simulcast:recv q;f" in answer and "a=rid:h" not in answer and rids == ["q", "f"]

    answer, rids = answer_for(("a=rid:q send", "a=rid:q send pt=96,98"))
    assert rids == ["q", "h", "f"]

    # Without the rtp-stream-id extension layers cannot be told apart: no simulcast.
    answer, rids = answer_for(("a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n", ""))
    assert "a=simulcast" not in answer and "a=rid" not in answer and rids == []

    # Send rids outside the simulcast list are not answered.
    answer, rids = answer_for(("a=simulcast:send q;h;f", "a=simulcast:send q;h"))
    assert "a=rid:f" not in answer and rids == ["q", "h"]


def test_bundle_membership(chrome_offer: str, server: ServerIdentity) -> None:
    # An m-line outside the BUNDLE group would need a second transport: rejected.
    answer, _, media = answer_publisher_offer(make_offer(chrome_offer, ("BUNDLE 0 1", "BUNDLE 1")), server)
    assert [m.mid for m in media] == ["1"] and "m=audio 0 " in answer and "a=group:BUNDLE 1\r\n" in answer
    # RFC 8843 bundle-only: port 0 yet bundled, so accepted.
    offer = make_offer(chrome_offer, ("m=video 9", "m=video 0"), ("a=mid:1\r\n", "a=mid:1\r\na=bundle-only\r\n"))
    answer, _, media = answer_publisher_offer(offer, server)
    assert [m.mid for m in media] == ["0", "1"] and "m=video 9 " in answer


def test_no_extmap_allow_mixed_or_rsize_unless_offered(chrome_offer: str, server: ServerIdentity) -> None:
    offer = make_offer(chrome_offer, ("a=extmap-allow-mixed\r\n", ""), ("a=rtcp-rsize\r\n", ""))
    answer, _, _ = answer_publisher_offer(offer, server)
    assert "extmap-allow-mixed" not in answer and "rtcp-rsize" not in answer


def test_wildcard_feedback_filtered(aiortc_offer: str, server: ServerIdentity) -> None:
    offer = aiortc_offer.replace("a=rtcp-fb:97 nack\r\n", "a=rtcp-fb:* transport-cc\r\na=rtcp-fb:* ccm fir\r\n")
    answer, _, _ = answer_publisher_offer(offer, server)
    # This offer has no transport-wide sequence number extension: no feedback could be sent, so none is promised.
    assert "transport-cc" not in answer
    assert "a=rtcp-fb:97 ccm fir" in answer and "a=rtcp-fb:97 nack pli" in answer
    assert "a=rtcp-fb:97 nack\r\n" not in answer


def test_transport_cc_feedback_is_answered_only_with_its_extension(chrome_offer: str, server: ServerIdentity) -> None:
    _, _, media = answer_publisher_offer(chrome_offer, server)
    assert [m.ext_ids.get(URI_TRANSPORT_CC) for m in media] == [3, 3]  # where the publisher side reads the numbers
    offer = make_offer(chrome_offer, (f"a=extmap:3 {URI_TRANSPORT_CC}\r\n", ""))
    answer, _, media = answer_publisher_offer(offer, server)
    assert "transport-cc" not in answer and "draft-holmer" not in answer
    assert all(URI_TRANSPORT_CC not in m.ext_ids for m in media)


def test_rtx_with_wrong_apt_is_not_used(chrome_offer: str, server: ServerIdentity) -> None:
    _, _, media = answer_publisher_offer(make_offer(chrome_offer, ("a=fmtp:97 apt=96", "a=fmtp:97 apt=102")), server)
    assert media[1].rtx_payload_type is None


def test_m_line_without_mid_extension_or_ssrc_is_rejected(chrome_offer: str, server: ServerIdentity) -> None:
    offer = make_offer(chrome_offer, ("a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:10", "a=extmap:10"))
    answer, _, media = answer_publisher_offer(offer, server)
    assert [m.mid for m in media] == ["0"]
    assert "m=video 0 " in answer


FP_LINE = f"a=fingerprint:sha-256 {CHROME_FP}\r\n"


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        ((("v=0", "v=zero"),), "unsupported SDP version"),
        ((("a=ice-ufrag:HI5C\r\n", ""),), "no a=ice-ufrag"),
        ((("a=ice-pwd:pYpBtzqbyTnt2XotNX7mKY36", "a=ice-pwd:short"),), "ice-pwd must be"),
        ((("a=ice-ufrag:HI5C", "a=ice-ufrag:H!"),), "ice-ufrag must be"),
        (((FP_LINE, ""),), "no a=fingerprint"),
        (((FP_LINE, "a=fingerprint:sha-1 AA:BB\r\n"),), "only sha-256"),
        ((("a=fingerprint:sha-256 AE:44", "a=fingerprint:sha-256 ZZ:44"),), "not 32 colon-separated"),
        ((("a=group:BUNDLE 0 1\r\n", ""),), "no a=group:BUNDLE"),
        ((("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 7"),), "unknown mid"),
        ((("a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 1"),), "lists a mid twice"),
        ((("a=mid:1", "a=mid:0"),), "duplicate a=mid"),
        (
            (("a=mid:1", "a=mid:abcdefghijklmnopq"), ("BUNDLE 0 1", "BUNDLE 0 abcdefghijklmnopq")),
            "longer than 16",
        ),
        ((("a=mid:1\r\n", ""),), "has no a=mid"),
        ((("a=setup:actpass", "a=setup:passive"),), "always the DTLS server"),
        ((("a=extmap-allow-mixed", "a=ice-lite"),), "ICE-lite"),
        ((("a=rid:h send\r\n", ""),), "without an a=rid:h send line"),
    ],
)
def test_unacceptable_offers(
    chrome_offer: str, server: ServerIdentity, replacements: tuple[tuple[str, str], ...], message: str
) -> None:
    with pytest.raises(SdpError, match=message):
        answer_publisher_offer(make_offer(chrome_offer, *replacements), server)


def test_offer_without_media_or_usable_codecs(server: ServerIdentity) -> None:
    with pytest.raises(SdpError, match="no m= sections"):
        answer_publisher_offer("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", server)
    pcmu_only = (
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
        "a=rtcp-mux\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
        f"a=fingerprint:sha-256 {CHROME_FP}\r\na=rtpmap:0 PCMU/8000\r\na=ssrc:1 cname:x\r\n"
    )
    with pytest.raises(SdpError, match=r"no usable m= section \(mid 0: no Opus/48000/2\)"):
        answer_publisher_offer(pcmu_only, server)
    opus_only = pcmu_only.replace("SAVPF 0\r\n", "SAVPF 111\r\n").replace(
        "a=rtpmap:0 PCMU/8000", "a=rtpmap:111 opus/48000/2"
    )
    answer, _, media = answer_publisher_offer(opus_only, server)
    assert media[0].payload_type == 111 and "a=group" not in answer
    with pytest.raises(SdpError, match="mid 0: no a=rtcp-mux"):
        answer_publisher_offer(opus_only.replace("a=rtcp-mux\r\n", ""), server)
    with pytest.raises(SdpError, match="mid 0: neither the mid header extension nor a=ssrc"):
        answer_publisher_offer(opus_only.replace("a=ssrc:1 cname:x\r\n", ""), server)


def test_server_identity_validation() -> None:
    good = {
        "ice_ufrag": "abcd",
        "ice_pwd": "p" * 22,
        "fingerprint": ":".join(["AB"] * 32),
        "host": "::1",
        "port": 1,
    }
    ServerIdentity(**good)  # type: ignore[arg-type]
    for key, value in [
        ("ice_ufrag", "abc"),
        ("ice_pwd", "p" * 21),
        ("ice_pwd", "p" * 21 + " "),
        ("fingerprint", ":".join(["ab"] * 32)),
        ("fingerprint", ":".join(["AB"] * 31)),
        ("host", "example.com"),
        ("port", 0),
        ("port", 65536),
    ]:
        with pytest.raises(ValueError):
            ServerIdentity(**{**good, key: value})  # type: ignore[arg-type]


def test_helpers() -> None:
    der = b"\x30\x82certificate"
    fp = sha256_fingerprint(der)
    assert fp == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
    assert len(fp) == 95
    ufrag, pwd = random_ice_credentials()
    ServerIdentity(ufrag, pwd, fp, "127.0.0.1", 9)
    assert random_ice_credentials() != (ufrag, pwd)


def test_firefox_simulcast_is_taken_by_rid_with_its_directional_extmaps(server: ServerIdentity) -> None:
    # Firefox 153 marks rid and repaired-rid `sendonly` and lists a=ssrc lines in FID groups besides its rids:
    # the rids win (each layer is bound by its rid extension), and the answer mirrors the directions.
    offer = (Path(__file__).parent / "data" / "firefox153_offer_audio_simulcast_video.sdp").read_text()
    answer_text, _, media = answer_publisher_offer(offer, server)
    video = next(m for m in media if m.kind == "video")
    assert video.rids == ["q", "h", "f"]
    assert video.ext_ids[URI_RID] == 9 and video.ext_ids[URI_REPAIRED_RID] == 10
    assert (video.payload_type, video.rtx_payload_type) == (120, 124)
    lines = answer_text.splitlines()
    assert f"a=extmap:9/recvonly {URI_RID}" in lines and f"a=extmap:10/recvonly {URI_REPAIRED_RID}" in lines
    assert "a=simulcast:recv q;h;f" in lines and "a=rid:q recv" in lines
    # An extension Firefox only receives (playout-delay, csrc-audio-level) is not answered.
    assert not [line for line in lines if "playout-delay" in line or "csrc-audio-level" in line]
    parsed = parse_sdp(answer_text)
    assert parsed.media[0].extmap_directions == {9: "recvonly", 10: "recvonly"}


def test_a_dual_stack_server_announces_each_address_the_first_preferred(chrome_offer: str) -> None:
    server = ServerIdentity("srvUfrag", "ServerPassword0123456789", ":".join(["A0"] * 32), "198.51.100.7", 3478,
                            extra_hosts=("2001:db8::7",))
    answer, _, _ = answer_publisher_offer(chrome_offer, server)
    candidates = [line for line in media_blocks(answer)[0] if line.startswith("a=candidate")]
    assert candidates == ["a=candidate:1 1 udp 2130706431 198.51.100.7 3478 typ host",
                          "a=candidate:2 1 udp 2130706175 2001:db8::7 3478 typ host"]
    AiortcSdp.parse(answer)


@pytest.mark.parametrize(("public_ip", "expected"), [
    ("203.0.113.7", ["203.0.113.7"]), ("203.0.113.7, 2001:db8::7", ["203.0.113.7", "2001:db8::7"]),
    ("203.0.113.7,", ["203.0.113.7"])])
def test_announced_addresses_are_ip_literals(public_ip: str, expected: list[str]) -> None:
    assert announced_addresses(public_ip) == expected


@pytest.mark.parametrize("public_ip", ["", " , ", "media.example.org", "203.0.113.7,nope"])
def test_anything_but_ip_literals_is_refused(public_ip: str) -> None:
    with pytest.raises(ValueError):
        announced_addresses(public_ip)


def _with_copies(offer: str, copies: int) -> str:
    """The offer with its video m-section repeated `copies` more times under new mids, all in the BUNDLE."""
    head, *sections = offer.split("\r\nm=")
    video = next(s for s in sections if s.startswith("video"))
    video_mid = next(line for line in video.split("\r\n") if line.startswith("a=mid:"))[len("a=mid:"):]
    extra = [video.replace(f"a=mid:{video_mid}", f"a=mid:x{n}").rstrip("\r\n") for n in range(copies)]
    mids = [f"x{n}" for n in range(copies)]
    head = head.replace("a=group:BUNDLE ", "a=group:BUNDLE " + " ".join(mids) + " ", 1)
    body = [s.rstrip("\r\n") for s in sections] + extra
    return head + "".join(f"\r\nm={s}" for s in body) + "\r\n"


@pytest.mark.parametrize("copies", [118, 498])
def test_an_offer_with_hundreds_of_m_lines_is_refused_with_a_clear_reason(chrome_offer: str, server: ServerIdentity,
                                                                        copies: int) -> None:
    with pytest.raises(SdpError, match=rf"offer has {copies + 2} m= sections; at most {MAX_OFFER_SECTIONS}"):
        # A few lines per m-line, as the attacker sends them (the 120 m-lines were 13 KB).
        answer_publisher_offer(with_extra_sections(chrome_offer, copies), server)


def test_an_offer_sending_on_more_m_lines_than_a_person_has_devices_is_refused(chrome_offer: str,
                                                                              server: ServerIdentity) -> None:
    allowed = _with_copies(chrome_offer, MAX_PUBLISHED_SECTIONS - 2)
    assert len(answer_publisher_offer(allowed, server)[2]) == MAX_PUBLISHED_SECTIONS
    with pytest.raises(SdpError, match=rf"sends on {MAX_PUBLISHED_SECTIONS + 1} m= sections; at most"):
        answer_publisher_offer(_with_copies(chrome_offer, MAX_PUBLISHED_SECTIONS - 1), server)
