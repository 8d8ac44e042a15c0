"""Tests for the SDP model: parsing real offers, round trips, inheritance and clear errors for bad input."""

from __future__ import annotations

import pytest

from mediaserver.sdp.grammar import parse_simulcast
from mediaserver.sdp.model import (
    MAX_SDP_CHARS,
    MAX_SDP_LINES,
    Codec,
    MediaSection,
    Rid,
    SdpError,
    SessionDescription,
    parse_sdp,
)

CHROME_FP = (
    "sha-256",
    "AE:44:76:DE:4B:F0:A7:AB:7B:85:0F:B1:68:1C:04:08:46:7E:86:76:2F:0A:CD:FF:9D:D0:5A:26:A7:59:3E:09",
)

HEADER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def sdp(*lines: str) -> str:
    return HEADER + "".join(line + "\r\n" for line in lines)


def test_chrome_offer_session(chrome_offer: str) -> None:
    d = parse_sdp(chrome_offer)
    assert d.version == 0
    assert d.origin == "- 2825215389551880773 2 IN IP4 127.0.0.1"
    assert d.groups == [("BUNDLE", ["0", "1"])]
    assert d.bundle_mids() == ["0", "1"]
    assert d.extmap_allow_mixed is True
    assert d.ice_lite is False
    assert d.msid_semantic == "WMS dfcfacee-c980-47a9-b69c-d41f0ac1a79f"
    assert [(m.kind, m.mid, m.port, m.proto) for m in d.media] == [
        ("audio", "0", 9, "UDP/TLS/RTP/SAVPF"),
        ("video", "1", 9, "UDP/TLS/RTP/SAVPF"),
    ]


def test_chrome_offer_audio(chrome_offer: str) -> None:
    audio = parse_sdp(chrome_offer).media[0]
    assert audio.formats == [111, 63, 9, 0, 8, 13, 110, 126]
    assert audio.direction == "sendonly"
    assert (audio.ice_ufrag, audio.ice_pwd) == ("HI5C", "pYpBtzqbyTnt2XotNX7mKY36")
    assert audio.fingerprint == CHROME_FP
    assert audio.setup == "actpass"
    assert audio.rtcp_mux and audio.rtcp_rsize
    assert audio.extmaps == {
        1: "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        2: "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        3: "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        4: "urn:ietf:params:rtp-hdrext:sdes:mid",
    }
    assert audio.codecs[0] == Codec(111, "opus", 48000, 2, "minptime=10;useinbandfec=1", ["transport-cc"])
    assert audio.codec(63) == Codec(63, "red", 48000, 2, "111/111", [])
    assert audio.codec(0) == Codec(0, "PCMU", 8000, None, None, [])
    assert audio.msid == "dfcfacee-c980-47a9-b69c-d41f0ac1a79f 832176e0-3057-43bc-9d26-3e516f1be6ac"
    assert audio.ssrcs == {
        4117577166: {
            "cname": "l0Z7SfI4Kw2Y43Tr",
            "msid": "dfcfacee-c980-47a9-b69c-d41f0ac1a79f 832176e0-3057-43bc-9d26-3e516f1be6ac",
        }
    }
    assert audio.connection == "IN IP4 0.0.0.0"
    assert audio.other == ["rtcp:9 IN IP4 0.0.0.0", "ice-options:trickle", "rtcp-xr:rcvr-rtt=all"]


def test_chrome_offer_video(chrome_offer: str) -> None:
    video = parse_sdp(chrome_offer).media[1]
    assert video.formats[:2] == [96, 97] and len(video.formats) == 23
    assert len(video.codecs) == 23
    assert video.extmaps[4] == "urn:ietf:params:rtp-hdrext:sdes:mid"
    assert video.extmaps[10] == "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
    assert video.extmaps[11] == "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
    assert video.extmaps[2] == "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
    assert video.extmaps[3] == "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
    assert sorted(video.extmaps) == list(range(2, 15))
    assert video.codec(96) == Codec(
        96, "VP8", 90000, None, None, ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"]
    )
    assert video.codec(97) == Codec(97, "rtx", 90000, None, "apt=96", [])
    h264 = video.codec(102)
    assert h264 is not None and h264.fmtp is not None and "profile-level-id=42001f" in h264.fmtp
    assert video.codec(120) == Codec(120, "ulpfec", 90000, None, None, [])
    assert video.rids == [Rid("q", "send"), Rid("h", "send"), Rid("f", "send")]
    assert video.simulcast == "send q;h;f"
    assert parse_simulcast(video.simulcast) == {"send": [[("q", False)], [("h", False)], [("f", False)]]}
    assert video.ssrcs == {} and video.ssrc_groups == []
    assert video.fingerprint == CHROME_FP


def test_lf_and_crlf_parse_the_same(chrome_offer: str) -> None:
    assert "\r\n" in chrome_offer
    assert parse_sdp(chrome_offer.replace("\r\n", "\n")) == parse_sdp(chrome_offer)


def test_round_trip(chrome_offer: str, aiortc_offer: str) -> None:
    for text in (chrome_offer, aiortc_offer):
        d = parse_sdp(text)
        out = d.serialize()
        assert out.endswith("\r\n") and "\n" not in out.replace("\r\n", "")
        assert parse_sdp(out) == d
        assert parse_sdp(out).serialize() == out


def test_chrome_offer_serializes_to_the_same_lines(chrome_offer: str) -> None:
    # Canonical order differs from Chrome's, but no line is lost or invented.
    original = sorted(line for line in chrome_offer.split("\r\n") if line)
    assert sorted(line for line in parse_sdp(chrome_offer).serialize().split("\r\n") if line) == original


def test_aiortc_offer_multiple_fingerprints(aiortc_offer: str) -> None:
    d = parse_sdp(aiortc_offer)
    for m in d.media:
        assert m.fingerprint is not None and m.fingerprint[0] == "sha-256"
        assert [alg for alg, _ in m.extra_fingerprints] == ["sha-384", "sha-512"]
        assert len(m.candidates) >= 1 and m.end_of_candidates
    video = d.media[1]
    assert video.ssrc_groups and video.ssrc_groups[0][0] == "FID"


def test_sha256_fingerprint_preferred_even_when_listed_later() -> None:
    d = parse_sdp(
        sdp(
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=fingerprint:sha-1 AA:BB",
            "a=fingerprint:SHA-256 " + ":".join(["0F"] * 32),
            "a=rtpmap:111 opus/48000/2",
        )
    )
    m = d.media[0]
    assert m.fingerprint == ("SHA-256", ":".join(["0F"] * 32))
    assert m.extra_fingerprints == [("sha-1", "AA:BB")]
    assert parse_sdp(d.serialize()) == d


def test_session_level_transport_is_inherited() -> None:
    fp = ":".join(["12"] * 32)
    d = parse_sdp(
        sdp(
            "a=ice-ufrag:sess",
            "a=ice-pwd:sessionpassword1234567890",
            f"a=fingerprint:sha-256 {fp}",
            "a=setup:actpass",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111",
            "a=mid:0",
            "m=video 9 UDP/TLS/RTP/SAVPF 96",
            "a=mid:1",
            "a=ice-ufrag:media",
            "a=ice-pwd:mediapassword1234567890",
            "a=setup:active",
        )
    )
    audio, video = d.media
    assert audio.ice_ufrag is None
    assert audio.effective_ice(d) == ("sess", "sessionpassword1234567890")
    assert audio.effective_fingerprints(d) == [("sha-256", fp)]
    assert audio.effective_setup(d) == "actpass"
    assert video.effective_ice(d) == ("media", "mediapassword1234567890")
    assert video.effective_setup(d) == "active"
    assert parse_sdp(d.serialize()) == d


def test_data_channel_and_rare_lines_kept() -> None:
    d = parse_sdp(
        "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=name with spaces\ni=info\nc=IN IP4 0.0.0.0\nb=AS:100\nt=0 0\n"
        "r=7d 1h 0 25h\na=tool:test\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\ni=media info\nc=IN IP4 0.0.0.0\nb=AS:30\n"
        "a=mid:2\na=sctp-port:5000\na=max-message-size:262144\n"
    )
    assert d.session_name == "name with spaces"
    assert d.connection == "IN IP4 0.0.0.0" and d.bandwidth == ["AS:100"]
    assert d.extra_lines == ["i=info", "r=7d 1h 0 25h"]
    assert d.other == ["tool:test"]
    app = d.media[0]
    assert app.formats == [] and app.app_formats == ["webrtc-datachannel"]
    assert not app.is_rtp
    assert app.other == ["sctp-port:5000", "max-message-size:262144"]
    assert app.bandwidth == ["AS:30"] and app.extra_lines == ["i=media info"]
    assert parse_sdp(d.serialize()) == d


def test_fmtp_before_rtpmap_wildcard_feedback_and_static_payloads() -> None:
    d = parse_sdp(
        sdp(
            "m=video 9 UDP/TLS/RTP/SAVPF 96 0",
            "a=fmtp:96 x=1",
            "a=rtcp-fb:*  nack",
            "a=rtcp-fb:96   nack   pli",
            "a=rtpmap:96 VP8/90000",
            "a=fmtp:0 y=2",
            "a=extmap:5/sendonly urn:example:ext",
            "a=extmap:6 urn:example:with-attrs attr",
        )
    )
    m = d.media[0]
    assert m.codecs == [Codec(96, "VP8", 90000, None, "x=1", ["nack pli"])]
    assert m.other == [
        "extmap:6 urn:example:with-attrs attr",
        "rtcp-fb:* nack",
        "fmtp:0 y=2",
    ]
    # A direction is kept beside the id (RFC 8285): Firefox marks its rid extensions sendonly.
    assert m.extmaps == {5: "urn:example:ext"} and m.extmap_directions == {5: "sendonly"}
    assert "a=extmap:5/sendonly urn:example:ext" in d.serialize()
    assert parse_sdp(d.serialize()) == d


def test_defaults_and_missing_direction() -> None:
    d = parse_sdp(sdp("m=audio 9 RTP/AVP 0"))
    assert d.media[0].direction == "sendrecv"
    assert d.media[0].mid is None
    assert "a=sendrecv" in d.serialize()


def test_constructed_description_serializes() -> None:
    media = MediaSection(kind="audio", port=9, proto="UDP/TLS/RTP/SAVPF", formats=[111], mid="a")
    media.codecs = [Codec(111, "opus", 48000, 2, "minptime=10")]
    media.ssrcs = {5: {"cname": "x", "flag": ""}}
    d = SessionDescription(media=[media], groups=[("BUNDLE", ["a"])])
    text = d.serialize()
    assert "a=ssrc:5 flag\r\n" in text
    assert parse_sdp(text) == d


def test_simulcast_grammar() -> None:
    assert parse_simulcast("send q;~h;f") == {"send": [[("q", False)], [("h", True)], [("f", False)]]}
    assert parse_simulcast("recv a,b;c send d") == {
        "recv": [[("a", False), ("b", False)], [("c", False)]],
        "send": [[("d", False)]],
    }
    assert parse_simulcast("send rid=1;2") == {"send": [[("1", False)], [("2", False)]]}
    for bad in ("send", "both q", "send q;;h", "send q;q", "send q recv", "send q send h", "send q!"):
        with pytest.raises(SdpError):
            parse_simulcast(bad)


MEDIA = "m=video 9 UDP/TLS/RTP/SAVPF 96"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\r\n\r\n", "empty"),
        ("o=- 1 2 IN IP4 1.1.1.1\r\n", "must start with v="),
        ("v=1\r\n", "unsupported SDP version"),
        ("v=0\r\ns=-\r\nt=0 0\r\n", "no o= line"),
        ("v=0\r\no=- 1 2 IN IP4 1.1.1.1\r\ns=-\r\n", "no t= line"),
        ("v=0\r\no=- 1 2 IN\r\ns=-\r\nt=0 0\r\n", "line 2: o= needs 6 fields"),
        (sdp("v=0"), "line 5"),
        (sdp("s=again"), "more than one s="),
        (sdp("hello world"), "line 5: expected '<letter>=<value>'"),
        (sdp("X=upper"), "expected '<letter>=<value>'"),
        (sdp("x=unknown"), "unknown line type x="),
        (sdp("a=bad name"), "invalid attribute name"),
        (sdp("a=ok\x00nul"), "control character"),
        (sdp("a=ok\rcr"), "control character"),
        (sdp("a=setup:sideways"), "a=setup must be one of"),
        (sdp("a=ice-lite:yes"), "takes no value"),
        (sdp("a=ice-ufrag:a", "a=ice-ufrag:b"), "given twice"),
        (sdp("a=fingerprint:sha-256"), "a=fingerprint must be"),
        (sdp("a=group:"), "a=group needs a value"),
        (sdp("m=video"), "m= needs"),
        (sdp("m=video 9/2 UDP/TLS/RTP/SAVPF 96"), "port ranges"),
        (sdp("m=video 70000 UDP/TLS/RTP/SAVPF 96"), "out of range"),
        (sdp("m=video +9 UDP/TLS/RTP/SAVPF 96"), "expected a decimal number"),
        (sdp("m=video 9 UDP/TLS/RTP/SAVPF 96 300"), "payload type"),
        (sdp("m=video 9 UDP/TLS/RTP/SAVPF 96 96"), "payload type twice"),
        (sdp("m=video 9 UDP/TLS/RTP/SAVPF ninety"), "expected a decimal number"),
        (sdp("m=video 9 UDP/TLS/RTP/SAVPF 9\u0666"), "expected a decimal number"),
        (sdp(MEDIA, "a=rtpmap:97 VP8/90000"), "not listed on the m= line"),
        (sdp(MEDIA, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8/90000"), "given twice"),
        (sdp(MEDIA, "a=rtpmap:96 VP8"), "expected '<name>/<clock rate>"),
        (sdp(MEDIA, "a=rtpmap:96 VP8/0"), "clock rate must not be 0"),
        (sdp(MEDIA, "a=rtpmap:96 VP8/90000", "a=fmtp:96 a=1", "a=fmtp:96 b=2"), "a=fmtp:96 given twice"),
        (sdp(MEDIA, "a=fmtp:96"), "a=fmtp needs '<payload type> <value>'"),
        (sdp(MEDIA, "a=rtcp-fb:96"), "a=rtcp-fb needs '<payload type> <value>'"),
        (sdp(MEDIA, "a=mid:0", "a=mid:1"), "a=mid given twice"),
        (sdp(MEDIA, "a=mid:(0)"), "invalid a=mid"),
        (sdp(MEDIA, "a=sendonly", "a=recvonly"), "a=recvonly after another direction"),
        (sdp(MEDIA, "a=extmap:0 urn:x"), "id 0 is reserved"),
        (sdp(MEDIA, "a=extmap:256 urn:x"), "out of range"),
        (sdp(MEDIA, "a=extmap:1 urn:x", "a=extmap:1 urn:y"), "id 1 given twice"),
        (sdp(MEDIA, "a=extmap:1"), "a=extmap needs"),
        (sdp(MEDIA, "a=rid:q both"), "a=rid needs"),
        (sdp(MEDIA, "a=rid:q! send"), "a=rid needs"),
        (sdp(MEDIA, "a=rid:q send", "a=rid:q send"), "a=rid:q given twice"),
        (sdp(MEDIA, "a=simulcast:send"), "a=simulcast"),
        (sdp(MEDIA, "a=simulcast:send a", "a=simulcast:send b"), "given twice"),
        (sdp(MEDIA, "a=ssrc:1"), "a=ssrc needs"),
        (sdp(MEDIA, "a=ssrc:4294967296 cname:x"), "out of range"),
        (sdp(MEDIA, "a=ssrc:1 cname:x", "a=ssrc:1 cname:y"), "given twice"),
        (sdp(MEDIA, "a=ssrc-group:FID"), "a=ssrc-group needs '<semantics> <ssrc>"),
        (sdp(MEDIA, "a=ssrc-group:FID x"), "expected a decimal number"),
        (sdp(MEDIA, "a=candidate:"), "a=candidate needs a value"),
        (sdp(MEDIA, "c=IN IP4 0.0.0.0", "c=IN IP4 0.0.0.0"), "more than one c="),
        (sdp(MEDIA, "o=- 1 2 IN IP4 1.1.1.1"), "only allowed at session level"),
    ],
)
def test_malformed_sdp_raises_clear_sdp_error(text: str, message: str) -> None:
    with pytest.raises(SdpError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_sdp(text)


def test_size_limits() -> None:
    with pytest.raises(SdpError, match="characters"):
        parse_sdp(HEADER + "a=x:" + "y" * MAX_SDP_CHARS)
    with pytest.raises(SdpError, match="lines"):
        parse_sdp(HEADER + "a=x\r\n" * MAX_SDP_LINES)


def test_non_text_input() -> None:
    with pytest.raises(SdpError, match="must be text"):
        parse_sdp(b"v=0\r\n")  # type: ignore[arg-type]


def test_an_extmap_direction_must_be_one_of_rfc_8285s() -> None:
    with pytest.raises(SdpError, match="direction"):
        parse_sdp(sdp("m=video 9 UDP/TLS/RTP/SAVPF 96", "a=rtpmap:96 VP8/90000", "a=extmap:5/sideways urn:x"))
