"""Subscriber side: build the server's sendonly offer of forwarded tracks and check the browser's answer."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from mediaserver.sdp.grammar import SdpError, is_token, shorten
from mediaserver.sdp.identity import (
    DUMMY_PORT,
    MAX_MID_LENGTH,
    OPUS_FMTP,
    PROTO,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_TRANSPORT_CC,
    PeerIdentity,
    ServerIdentity,
    check_unique_mids,
    peer_identity,
)
from mediaserver.sdp.model import Codec, MediaSection, SessionDescription, parse_sdp

OPUS_PT: Final = 111
VP8_PT: Final = 96
VP8_RTX_PT: Final = 97
H264_PT: Final = 102
H264_RTX_PT: Final = 103
# Constrained baseline, the profile every browser decodes; level asymmetry lets a publisher's level differ.
H264_FMTP: Final = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"
# Every video m-line offers both codecs: the browser's answer keeps those it can decode, which is how the
# server learns that a subscriber (Firefox without OpenH264) cannot show an H.264 publication. A track's
# payload type follows its publication's codec; the slot keeps both, so a later track of the other codec
# reuses it without a change of codecs.
SUBSCRIBER_PAYLOAD_TYPES: Final = {"opus": OPUS_PT, "VP8": VP8_PT, "H264": H264_PT}
SUBSCRIBER_RTX_PAYLOAD_TYPES: Final = {"VP8": VP8_RTX_PT, "H264": H264_RTX_PT}
_VIDEO_CODECS: Final = {"VP8": (VP8_PT, VP8_RTX_PT, None), "H264": (H264_PT, H264_RTX_PT, H264_FMTP)}
# What the server handles from subscribers: NACK (retransmit from its cache), PLI/FIR (forwarded to
# the publisher as a keyframe request) and transport-wide feedback on every packet we send (the downlink
# estimate that picks layers). No REMB: the browser computes none once transport-cc is negotiated.
VIDEO_FEEDBACK: Final = ("nack", "nack pli", "ccm fir", "transport-cc")
# Stable ids, identical in every offer of a session, matching Chrome's own numbering. Every video packet we send
# carries the transport-wide sequence number (id 3); nothing else is written. Audio is not numbered: with 19
# people it is two thirds of the packets, and each numbered packet costs a feedback entry to parse and feed the
# estimator (+50 % CPU per forwarded packet in the 20-person load test); the estimate is then of what the link
# leaves for video, which is what the allocator shares out.
TRANSPORT_CC_ID: Final = 3
AUDIO_EXTENSIONS: Final = {1: URI_AUDIO_LEVEL, 4: URI_MID}
VIDEO_EXTENSIONS: Final = {TRANSPORT_CC_ID: URI_TRANSPORT_CC, 4: URI_MID}

# cname is carried in RTCP SDES; anything printable without whitespace is safe on an a=ssrc line.
_CNAME_RE: Final = re.compile(r"[\x21-\x7e]{1,255}")


@dataclass
class OutboundTrack:
    """A remote participant's track forwarded to this subscriber on m-line `mid`."""

    mid: str
    kind: str
    ssrc: int
    rtx_ssrc: int | None
    stream_id: str
    track_id: str
    cname: str
    codec: str = ""  # the publication's codec name, offered first on its m-line


@dataclass
class InactiveSlot:
    """An m-line whose track went away; it stays (same mid, same place) and may carry a new track later."""

    mid: str
    kind: str


Slot = OutboundTrack | InactiveSlot


def _check_slots(slots: Sequence[Slot]) -> None:
    mids: set[str] = set()
    ssrcs: set[int] = set()
    for slot in slots:
        if not is_token(slot.mid) or len(slot.mid) > MAX_MID_LENGTH:
            raise ValueError(f"mid {slot.mid!r} must be 1-{MAX_MID_LENGTH} token characters")
        if slot.mid in mids:
            raise ValueError(f"mid {slot.mid!r} used twice")
        mids.add(slot.mid)
        if slot.kind not in ("audio", "video"):
            raise ValueError(f"mid {slot.mid!r}: kind must be 'audio' or 'video', got {slot.kind!r}")
        if isinstance(slot, InactiveSlot):
            continue
        if slot.rtx_ssrc is not None and slot.kind != "video":
            raise ValueError(f"mid {slot.mid!r}: only video carries rtx")
        for ssrc in (slot.ssrc, slot.rtx_ssrc):
            if ssrc is None:
                continue
            if not 1 <= ssrc <= 0xFFFFFFFF or ssrc in ssrcs:
                raise ValueError(f"mid {slot.mid!r}: ssrc {ssrc} is out of range or already used")
            ssrcs.add(ssrc)
        # RFC 8830: msid ids are 1-64 token characters.
        for value in (slot.stream_id, slot.track_id):
            if not is_token(value) or len(value) > 64:
                raise ValueError(f"mid {slot.mid!r}: msid part {value!r} must be 1-64 token characters")
        if _CNAME_RE.fullmatch(slot.cname) is None:
            raise ValueError(f"mid {slot.mid!r}: cname must be printable ASCII without spaces")


def check_slot_order(previous: Sequence[Slot], current: Sequence[Slot]) -> None:
    """Raise ValueError unless `current` keeps every earlier m-line in place (same mid and kind).

    Browsers reject a subsequent offer that removes or reorders m-lines; new slots may only be appended.
    """
    if len(current) < len(previous):
        raise ValueError(f"offer has {len(current)} m-lines, fewer than the {len(previous)} offered before")
    for index, (old, new) in enumerate(zip(previous, current, strict=False)):
        if (old.mid, old.kind) != (new.mid, new.kind):
            raise ValueError(f"m-line {index} changed from {old.kind} mid {old.mid!r} to {new.kind} mid {new.mid!r}")


def _section(slot: Slot, server: ServerIdentity) -> MediaSection:
    media = MediaSection(kind=slot.kind, port=DUMMY_PORT, proto=PROTO, mid=slot.mid)
    server.apply(media, setup="actpass")
    media.rtcp_mux = True
    media.rtcp_rsize = True
    if slot.kind == "audio":
        media.extmaps = dict(AUDIO_EXTENSIONS)
        media.codecs = [Codec(OPUS_PT, "opus", 48000, 2, OPUS_FMTP)]
    else:
        media.extmaps = dict(VIDEO_EXTENSIONS)
        first = slot.codec if isinstance(slot, OutboundTrack) and slot.codec in _VIDEO_CODECS else "VP8"
        for name in sorted(_VIDEO_CODECS, key=lambda n: n != first):
            pt, rtx_pt, fmtp = _VIDEO_CODECS[name]
            media.codecs += [Codec(pt, name, 90000, None, fmtp, list(VIDEO_FEEDBACK)),
                             Codec(rtx_pt, "rtx", 90000, None, f"apt={pt}")]
    media.formats = [c.payload_type for c in media.codecs]
    if isinstance(slot, InactiveSlot):
        media.direction = "inactive"
        return media
    media.direction = "sendonly"
    msid = f"{slot.stream_id} {slot.track_id}"
    media.msid = msid
    for ssrc in (slot.ssrc, slot.rtx_ssrc):
        if ssrc is not None:
            media.ssrcs[ssrc] = {"cname": slot.cname, "msid": msid}
    if slot.rtx_ssrc is not None:
        media.ssrc_groups = [("FID", [slot.ssrc, slot.rtx_ssrc])]
    return media


def build_subscriber_offer(slots: Sequence[Slot], server: ServerIdentity, session_version: int, session_id: int) -> str:
    """The server's offer for a subscriber PC: one m-line per slot, in slot order.

    The caller keeps slot order and mids stable across the offers of one session (see check_slot_order)
    and bumps session_version on every new offer. Zero slots give an offer without m-lines, the same
    shape Chrome's own createOffer() produces for a connection without transceivers; it is accepted by
    setRemoteDescription and creates no transport, so no ICE/DTLS happens until a later offer adds a slot.
    """
    _check_slots(slots)
    if not 0 <= session_id < 2**63 or not 0 <= session_version < 2**63:
        raise ValueError("session_id and session_version must be in [0, 2**63)")
    offer = SessionDescription(
        origin=f"- {session_id} {session_version} IN IP4 127.0.0.1",
        ice_lite=True,
        extmap_allow_mixed=True,
        msid_semantic="WMS *",
    )
    offer.media = [_section(slot, server) for slot in slots]
    if slots:
        # Inactive m-lines stay bundled: leaving the group would ask for a transport of their own.
        offer.groups = [("BUNDLE", [slot.mid for slot in slots])]
    return offer.serialize()


@dataclass
class SubscriberAnswer:
    """The browser's transport identity (None for an answer without m-lines), per mid what it decodes, and
    whether it gives transport-wide feedback (it kept our extension) and takes RTX (probe padding goes there)."""

    peer: PeerIdentity | None
    decodes: dict[str, frozenset[str]]
    transport_cc: bool = False
    rtx: bool = False


def parse_subscriber_answer(answer_text: str, offered_mids: Sequence[str]) -> PeerIdentity | None:
    """The transport identity of the browser's answer to build_subscriber_offer (see read_subscriber_answer)."""
    return read_subscriber_answer(answer_text, offered_mids).peer


def _answered_codecs(media: MediaSection) -> frozenset[str]:
    offered = {OPUS_PT: "opus"} if media.kind == "audio" else {pt: name for name, (pt, _, _) in _VIDEO_CODECS.items()}
    return frozenset(name for pt, name in offered.items() if pt in media.formats)


def read_subscriber_answer(answer_text: str, offered_mids: Sequence[str]) -> SubscriberAnswer:
    """Check the browser's answer to build_subscriber_offer: its transport identity and the codecs it took.

    Raises SdpError unless the answer has the offered mids in the same order, accepts every m-line
    (non-zero port, recvonly or inactive, with at least one offered codec), bundles them and carries ICE
    credentials and a sha-256 fingerprint.
    """
    answer = parse_sdp(answer_text)
    mids = [m.mid or "" for m in answer.media]
    if mids != list(offered_mids):
        raise SdpError(
            f"answer mids {shorten(' '.join(mids))} differ from the offered {shorten(' '.join(offered_mids))}"
        )
    if not answer.media:
        return SubscriberAnswer(None, {})
    check_unique_mids(answer)
    if answer.ice_lite:
        raise SdpError("answer is ICE-lite; an ICE-lite server needs a full-ICE peer")
    bundle = answer.bundle_mids()
    if len(answer.media) > 1 and (bundle is None or sorted(bundle) != sorted(mids)):
        raise SdpError("answer does not bundle every m-line; the server has a single port")
    decodes: dict[str, frozenset[str]] = {}
    transport_cc = rtx = False
    rtx_pts = {rtx_pt for _, rtx_pt, _ in _VIDEO_CODECS.values()}
    for media in answer.media:
        where = f"answer mid {media.mid}"
        if media.port == 0:
            raise SdpError(f"{where}: m-line rejected (port 0)")
        if media.direction not in ("recvonly", "inactive"):
            raise SdpError(f"{where}: direction {media.direction} (the subscriber connection only receives)")
        if not media.rtcp_mux:
            raise SdpError(f"{where}: no a=rtcp-mux")
        codecs = _answered_codecs(media) if media.kind in ("audio", "video") else frozenset()
        if not codecs:
            raise SdpError(f"{where}: none of the offered {media.kind} codecs was accepted")
        decodes[media.mid or ""] = codecs
        transport_cc = transport_cc or media.extmaps.get(TRANSPORT_CC_ID) == URI_TRANSPORT_CC
        rtx = rtx or (media.kind == "video" and bool(rtx_pts.intersection(media.formats)))
        setup = media.effective_setup(answer)
        if setup not in (None, "active"):
            raise SdpError(f"{where}: a=setup:{setup}; the browser must be the DTLS client (active)")
    # The bundled transport is the one of the BUNDLE-tag m-line.
    tag = answer.media_by_mid(bundle[0]) if bundle else answer.media[0]
    return SubscriberAnswer(peer_identity(answer, tag or answer.media[0]), decodes, transport_cc, rtx)
