"""Property tests: random and mutated SDP yields a result or SdpError, never another exception; round trips."""

from __future__ import annotations

from pathlib import Path

from aiortc.sdp import SessionDescription as AiortcSdp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mediaserver.sdp.identity import URI_TRANSPORT_CC
from mediaserver.sdp.model import SdpError, SessionDescription, parse_sdp
from mediaserver.sdp.negotiation import (
    InactiveSlot,
    OutboundTrack,
    ServerIdentity,
    Slot,
    answer_publisher_offer,
    build_subscriber_offer,
    parse_subscriber_answer,
)

DATA = Path(__file__).parent / "data"


def _read(name: str) -> str:
    with open(DATA / name, newline="") as f:
        return f.read()


CHROME_OFFER = _read("chrome156_offer_audio_simulcast_video.sdp")
# Recorded from aiortc 1.16 (addTransceiver audio+video sendonly): a=ssrc, FID, three fingerprints.
AIORTC_OFFER = _read("aiortc116_offer_audio_video.sdp")
SERVER = ServerIdentity("srvUfrag", "ServerPassword0123456789", ":".join(["5A"] * 32), "203.0.113.9", 50000)

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that matter to SDP parsing, plus a few that trip naive parsers (unicode digits/spaces).
SDP_ALPHABET = st.sampled_from([*"aomstcbv=:;,/~ -_.*#0123456789AZaz\t\r\n", "\u0663", "\u00a0", "\u2028", "é"])
VALUE = st.text(alphabet=SDP_ALPHABET, max_size=40)


def check_round_trip(sd: SessionDescription) -> None:
    text = sd.serialize()
    again = parse_sdp(text)
    assert again == sd
    assert again.serialize() == text


def parse_or_sdp_error(text: str) -> SessionDescription | None:
    try:
        sd = parse_sdp(text)
    except SdpError:
        return None
    check_round_trip(sd)
    return sd


def check_answer(offer_text: str) -> None:
    """The publisher answer either fails with SdpError or is well-formed and honours our invariants."""
    try:
        answer, peer, media = answer_publisher_offer(offer_text, SERVER)
    except SdpError:
        return
    offer = parse_sdp(offer_text)
    parsed = parse_sdp(answer)
    check_round_trip(parsed)
    assert parsed.ice_lite
    assert [m.mid for m in parsed.media] == [m.mid for m in offer.media]
    for answered in parsed.media:
        # Transport-wide feedback is promised only where its sequence numbers are negotiated (we send it for them).
        if any("transport-cc" in codec.rtcp_fb for codec in answered.codecs):
            assert URI_TRANSPORT_CC in answered.extmaps.values()
    accepted = [m for m in parsed.media if m.port != 0]
    assert accepted and all(m.setup == "passive" and m.rtcp_mux for m in accepted)
    assert {m.mid for m in media} <= {m.mid for m in accepted}
    assert peer.fingerprint[0] == "sha-256"
    if offer.bundle_mids() is not None:
        assert parsed.bundle_mids() == [m for m in offer.bundle_mids() or [] if m in {a.mid for a in accepted}]


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    lines = base.split("\r\n")[:-1]
    for _ in range(draw(st.integers(1, 5))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "truncate", "value", "number", "insert"]))
        line = lines[i]
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), line)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif op == "value":
            cut = max(line.find(":"), line.find("="), line.find(" "))
            lines[i] = line[: cut + 1] + draw(VALUE)
        elif op == "number":
            digits = [k for k, ch in enumerate(line) if ch.isdigit()]
            if digits:
                k = draw(st.sampled_from(digits))
                number = draw(st.sampled_from(["0", "-1", "65536", "4294967296", "99999999999", "1" * 5000, "٣"]))
                lines[i] = line[:k] + number + line[k + 1 :]
        else:
            prefix = draw(st.sampled_from(["a=", "m=", "c=", "v=", "a=rid:", "a=simulcast:", "a=extmap:", "x="]))
            lines.insert(i, prefix + draw(VALUE))
    sep = draw(st.sampled_from(["\r\n", "\n"]))
    return sep.join(lines) + sep


@FUZZ
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    parse_or_sdp_error(text)
    check_answer(text)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from("vostmcbaiukrzx"), VALUE), max_size=20))
def test_random_sdp_shaped_lines(pairs: list[tuple[str, str]]) -> None:
    text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" + "".join(f"{k}={v}\r\n" for k, v in pairs)
    parse_or_sdp_error(text)
    check_answer(text)


@FUZZ
@given(mutated(CHROME_OFFER))
def test_mutated_chrome_offer(text: str) -> None:
    parse_or_sdp_error(text)
    check_answer(text)


@FUZZ
@given(mutated(AIORTC_OFFER))
def test_mutated_aiortc_offer(text: str) -> None:
    parse_or_sdp_error(text)
    check_answer(text)


SUBSCRIBER_SLOTS: list[Slot] = [
    OutboundTrack("0", "audio", 11, None, "alice", "mic", "cn"),
    OutboundTrack("1", "video", 12, 13, "alice", "cam", "cn"),
    InactiveSlot("2", "video"),
]
SUBSCRIBER_ANSWER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1 2\r\na=msid-semantic: WMS\r\n"
    + "".join(
        f"m={kind} 9 UDP/TLS/RTP/SAVPF {pt}\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:brwS\r\n"
        f"a=ice-pwd:browserPassword012345678\r\na=fingerprint:sha-256 {':'.join(['C3'] * 32)}\r\n"
        f"a=setup:active\r\na=mid:{mid}\r\na={direction}\r\na=rtcp-mux\r\na=rtpmap:{pt} {codec}\r\n"
        for mid, kind, pt, codec, direction in [
            ("0", "audio", 111, "opus/48000/2", "recvonly"),
            ("1", "video", 96, "VP8/90000", "recvonly"),
            ("2", "video", 96, "VP8/90000", "inactive"),
        ]
    )
)


def test_subscriber_answer_fixture_is_valid() -> None:
    assert parse_subscriber_answer(SUBSCRIBER_ANSWER, ["0", "1", "2"]) is not None


@FUZZ
@given(mutated(SUBSCRIBER_ANSWER))
def test_mutated_subscriber_answer(text: str) -> None:
    if parse_or_sdp_error(text) is None:
        return
    try:
        peer = parse_subscriber_answer(text, ["0", "1", "2"])
    except SdpError:
        return
    assert peer is not None and peer.fingerprint[0] == "sha-256"


MIDS = st.text(alphabet="abcXYZ0123456789-_.!", min_size=1, max_size=16)
IDS = st.text(alphabet="abcdefXYZ0123456789-{}", min_size=1, max_size=64)


@st.composite
def slot_lists(draw: st.DrawFn) -> list[Slot]:
    mids = draw(st.lists(MIDS, unique=True, max_size=8))
    ssrcs = iter(draw(st.lists(st.integers(1, 2**32 - 1), unique=True, min_size=16, max_size=16)))
    slots: list[Slot] = []
    for mid in mids:
        kind = draw(st.sampled_from(["audio", "video"]))
        if draw(st.booleans()):
            slots.append(InactiveSlot(mid, kind))
            continue
        rtx = next(ssrcs) if kind == "video" and draw(st.booleans()) else None
        slots.append(OutboundTrack(mid, kind, next(ssrcs), rtx, draw(IDS), draw(IDS), draw(IDS)))
    return slots


@settings(max_examples=100, deadline=None)
@given(slot_lists(), st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_subscriber_offers_are_well_formed(slots: list[Slot], version: int, session_id: int) -> None:
    text = build_subscriber_offer(slots, SERVER, version, session_id)
    sd = parse_sdp(text)
    check_round_trip(sd)
    assert [m.mid for m in sd.media] == [s.mid for s in slots]
    assert sd.bundle_mids() == ([s.mid for s in slots] if slots else None)
    for media, slot in zip(sd.media, slots, strict=True):
        assert media.direction == ("inactive" if isinstance(slot, InactiveSlot) else "sendonly")
        if isinstance(slot, OutboundTrack):
            assert media.ssrcs[slot.ssrc]["cname"] == slot.cname
    theirs = AiortcSdp.parse(text)
    assert [m.rtp.muxId for m in theirs.media] == [s.mid for s in slots]
