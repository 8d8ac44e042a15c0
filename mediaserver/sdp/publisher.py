"""Publisher side: validate a browser's sendonly offer and build the server's recvonly answer."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from mediaserver.sdp.grammar import (
    SdpError,
    SimulcastStreams,
    format_simulcast_streams,
    parse_fmtp_params,
    parse_simulcast,
    shorten,
)
from mediaserver.sdp.identity import (
    DUMMY_CONNECTION,
    DUMMY_PORT,
    OPUS_FMTP,
    PROTO,
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    URI_REPAIRED_RID,
    URI_RID,
    URI_TRANSPORT_CC,
    PeerIdentity,
    ServerIdentity,
    check_unique_mids,
    peer_identity,
)
from mediaserver.sdp.model import Codec, MediaSection, Rid, SessionDescription, parse_sdp

# Header extensions the RTP layer reads; anything else offered is left out of the answer so the
# browser does not spend bytes on it. transport-cc is answered because the publisher side sends real
# transport-wide feedback for it every ~100 ms (rooms/publishing.py): a browser that negotiates it without
# getting feedback lets its bandwidth estimate collapse (Chrome stopped its top simulcast layer).
ACCEPTED_EXTENSIONS: Final = frozenset({URI_MID, URI_RID, URI_REPAIRED_RID, URI_AUDIO_LEVEL, URI_ABS_SEND_TIME,
                                        URI_TRANSPORT_CC})
# RTCP feedback the server actually sends to publishers. Audio gets only transport-cc (its packets share the
# transport-wide numbering, so the feedback covers them): the server neither NACKs audio nor sends REMB/PLI for it.
ACCEPTED_FEEDBACK: Final = {
    "audio": frozenset({"transport-cc"}),
    "video": frozenset({"goog-remb", "transport-cc", "nack", "nack pli", "ccm fir"}),
}
# Lets Chrome's bandwidth estimator start high enough to send the top simulcast layer at once.
VP8_ANSWER_FMTP: Final = "x-google-start-bitrate=2500"
# Video codecs the server forwards, in the default preference order (a room may prefer another order).
VIDEO_CODECS: Final = ("VP8", "H264")
# RFC 5761 section 4: with rtcp-mux these payload types collide with RTCP packet types.
_RTCP_CONFLICT_PTS: Final = range(64, 96)


MediaKind = Literal["audio", "video"]

# Per publisher connection. Browsers recycle the m-line of a stopped track (JSEP), so sharing the screen again
# and again does not grow the offer.
MAX_OFFER_SECTIONS: Final = 16
MAX_PUBLISHED_SECTIONS: Final = 6


@dataclass
class NegotiatedMedia:
    """One m-line the browser will send media on, in the offer's own numbering."""

    mid: str
    kind: MediaKind
    payload_type: int
    rtx_payload_type: int | None
    clock_rate: int
    ext_ids: dict[str, int] = field(default_factory=dict)
    codec: str = ""  # "opus", "VP8" or "H264"
    # Every forwardable codec the offer listed on this m-line: what the browser could be asked to send instead.
    offered_codecs: tuple[str, ...] = ()
    rids: list[str] = field(default_factory=list)
    ssrcs: list[int] = field(default_factory=list)
    rtx_ssrcs: dict[int, int] = field(default_factory=dict)
    msid: str | None = None


@dataclass
class _Choice:
    codec: Codec
    rtx: Codec | None
    name: str = ""
    offered: tuple[str, ...] = ()


def _h264_rank(codec: Codec) -> int | None:
    """Where an H.264 format stands among those we take (lower is better), None when we cannot forward it.

    Only packetization-mode 1 (what browsers send; mode 0 allows no fragmentation) in the baseline family,
    which every browser decodes: constrained baseline (42e01f, Chrome's and Safari's first) before plain.
    """
    params = parse_fmtp_params(codec.fmtp)
    profile = params.get("profile-level-id", "42001f").lower()
    if params.get("packetization-mode") != "1" or len(profile) != 6 or not profile.startswith("42"):
        return None
    try:
        constraints = int(profile[2:4], 16)
    except ValueError:
        return None
    return 0 if constraints & 0x40 else 1  # constraint_set1: the constrained baseline profile


def _video_candidates(ordered: list[Codec]) -> dict[str, Codec]:
    found: dict[str, Codec] = {}
    vp8 = next((c for c in ordered if c.name.lower() == "vp8" and c.clock_rate == 90000), None)
    if vp8 is not None:
        found["VP8"] = vp8
    h264 = [(rank, i, c) for i, c in enumerate(ordered) if c.name.lower() == "h264" and c.clock_rate == 90000
            if (rank := _h264_rank(c)) is not None]
    if h264:
        found["H264"] = min(h264, key=lambda item: item[:2])[2]
    return found


def _select_codecs(media: MediaSection, preference: Sequence[str] = VIDEO_CODECS) -> _Choice | None:
    """First usable Opus (audio), or the first video codec of `preference` the offer has (+ its rtx)."""
    ordered = [c for pt in media.formats if (c := media.codec(pt)) and pt not in _RTCP_CONFLICT_PTS]
    if media.kind == "audio":
        opus = next((c for c in ordered if c.name.lower() == "opus" and c.clock_rate == 48000), None)
        # RFC 7587: Opus is always signalled as opus/48000/2.
        return _Choice(opus, None, "opus", ("opus",)) if opus is not None and opus.channels == 2 else None
    if media.kind != "video":
        return None
    candidates = _video_candidates(ordered)
    name = next((n for n in preference if n in candidates), None)
    if name is None:
        return None
    codec = candidates[name]
    rtx = next(
        (
            c
            for c in ordered
            if c.name.lower() == "rtx"
            and c.clock_rate == 90000
            and parse_fmtp_params(c.fmtp).get("apt") == str(codec.payload_type)
        ),
        None,
    )
    return _Choice(codec, rtx, name, tuple(n for n in VIDEO_CODECS if n in candidates))


def _offered_feedback(media: MediaSection, codec: Codec) -> list[str]:
    wildcard = [" ".join(o.split()[1:]) for o in media.other if o.startswith("rtcp-fb:*")]
    return codec.rtcp_fb + [w for w in wildcard if w]


def _answer_feedback(media: MediaSection, codec: Codec, extensions: set[str]) -> list[str]:
    allowed = ACCEPTED_FEEDBACK.get(media.kind, frozenset())
    if URI_TRANSPORT_CC not in extensions:
        # Without the sequence number extension there is nothing to report: the feedback would never come.
        allowed = allowed - {"transport-cc"}
    result: list[str] = []
    for fb in _offered_feedback(media, codec):
        if fb in allowed and fb not in result:
            result.append(fb)
    return result


def _rid_allows(rid: Rid, payload_type: int) -> bool:
    """RFC 8851 `pt=` restriction: a rid limited to payload types we do not accept is unusable."""
    pts = parse_fmtp_params(rid.params).get("pt")
    return pts is None or str(payload_type) in [p.strip() for p in pts.split(",")]


def _simulcast_layers(media: MediaSection, codec_pt: int, rid_ext: bool) -> SimulcastStreams:
    """Offered send-simulcast streams we can receive; empty when the offer has no (usable) simulcast."""
    if media.simulcast is None:
        return []
    send = parse_simulcast(media.simulcast).get("send")
    if not send or not rid_ext:
        # Without the rtp-stream-id extension the layers cannot be told apart on the wire.
        return []
    send_rids = {r.id: r for r in media.rids if r.direction == "send"}
    streams: SimulcastStreams = []
    for alternatives in send:
        kept = []
        for rid, paused in alternatives:
            if rid not in send_rids:
                raise SdpError(f"mid {media.mid}: a=simulcast lists rid {rid!r} without an a=rid:{rid} send line")
            if _rid_allows(send_rids[rid], codec_pt):
                kept.append((rid, paused))
        if kept:
            streams.append(kept)
    return streams


def _answer_direction(offered: str) -> str:
    return "recvonly" if offered in ("sendonly", "sendrecv") else "inactive"


def _rejected(media: MediaSection) -> MediaSection:
    """Port 0 keeps the m-line (same mid, same order) while refusing it, as RFC 3264 requires."""
    answer = MediaSection(kind=media.kind, port=0, proto=media.proto, mid=media.mid, direction="inactive")
    answer.connection = DUMMY_CONNECTION
    if media.is_rtp:
        # One offered format is enough for a rejected line; its rtpmap keeps strict parsers happy.
        answer.formats = media.formats[:1]
        codec = media.codec(answer.formats[0])
        if codec is not None:
            answer.codecs = [Codec(codec.payload_type, codec.name, codec.clock_rate, codec.channels)]
    else:
        answer.app_formats = media.app_formats[:1]
    return answer


def _usable(media: MediaSection, bundle: list[str] | None,
            preference: Sequence[str] = VIDEO_CODECS) -> tuple[_Choice | None, str]:
    """The codecs to receive on this m-line, or None and why it must be rejected."""
    if media.port == 0 and "bundle-only" not in media.other:
        return None, "port 0 in the offer"
    if bundle is not None and media.mid not in bundle:
        return None, "not in the BUNDLE group (the server has a single port)"
    if media.kind not in ("audio", "video") or media.proto.upper() != PROTO:
        return None, f"unsupported {media.kind} over {media.proto}"
    if not media.rtcp_mux:
        return None, "no a=rtcp-mux"
    choice = _select_codecs(media, preference)
    if choice is None:
        if media.kind == "audio":
            return None, "no Opus/48000/2"
        return None, "no VP8/90000 nor H264/90000 with packetization-mode=1 in the baseline profile"
    if URI_MID not in media.extmaps.values() and not media.ssrcs:
        # Bundled packets are routed by the mid extension or by declared SSRCs; with neither they are lost.
        return None, "neither the mid header extension nor a=ssrc lines"
    return choice, ""


def _accept(media: MediaSection, choice: _Choice, server: ServerIdentity) -> tuple[MediaSection, NegotiatedMedia]:
    assert media.mid is not None
    # Only what the browser sends (no direction, sendrecv or sendonly: Firefox marks rid and repaired-rid
    # sendonly); an extension it only receives is of no use on a connection where the server only receives.
    offered = media.extmap_directions
    extmaps = {ext_id: uri for ext_id, uri in media.extmaps.items()
               if uri in ACCEPTED_EXTENSIONS and offered.get(ext_id, "sendrecv") in ("sendrecv", "sendonly")}
    ext_ids = {uri: ext_id for ext_id, uri in extmaps.items()}
    codec, rtx = choice.codec, choice.rtx
    answer = MediaSection(kind=media.kind, port=DUMMY_PORT, proto=PROTO, mid=media.mid)
    server.apply(answer, setup="passive")
    answer.extmaps = extmaps
    # RFC 8285 §7: the answer's direction of a directional extension is the mirror of the offer's.
    answer.extmap_directions = {ext_id: "recvonly" for ext_id in extmaps if offered.get(ext_id) == "sendonly"}
    answer.direction = _answer_direction(media.direction)
    answer.rtcp_mux = True
    answer.rtcp_rsize = media.rtcp_rsize
    if media.kind == "audio":
        fmtp: str | None = OPUS_FMTP
    elif choice.name == "H264":
        # The offer's own profile and mode: the answer must not promise a different bitstream.
        fmtp = f"{codec.fmtp};{VP8_ANSWER_FMTP}" if codec.fmtp else VP8_ANSWER_FMTP
    else:
        fmtp = VP8_ANSWER_FMTP
    answer.codecs = [
        Codec(
            codec.payload_type,
            codec.name,
            codec.clock_rate,
            codec.channels,
            fmtp,
            _answer_feedback(media, codec, set(extmaps.values())),
        )
    ]
    if rtx is not None:
        answer.codecs.append(Codec(rtx.payload_type, rtx.name, rtx.clock_rate, None, f"apt={codec.payload_type}"))
    answer.formats = [c.payload_type for c in answer.codecs]

    streams = _simulcast_layers(media, codec.payload_type, URI_RID in ext_ids) if media.kind == "video" else []
    rids = [rid for alternatives in streams for rid, _ in alternatives]
    if streams:
        answer.rids = [Rid(rid, "recv") for rid in rids]
        # Paused markers describe the sender's initial state; the receiver asks for every layer.
        answer.simulcast = "recv " + format_simulcast_streams(streams, keep_paused=False)

    fid = {g[0]: g[1] for sem, g in media.ssrc_groups if sem == "FID" and len(g) == 2}
    msid = media.msid or next((a["msid"] for a in media.ssrcs.values() if a.get("msid")), None)
    kind: MediaKind = "audio" if media.kind == "audio" else "video"
    negotiated = NegotiatedMedia(
        mid=media.mid,
        kind=kind,
        payload_type=codec.payload_type,
        rtx_payload_type=rtx.payload_type if rtx else None,
        clock_rate=codec.clock_rate,
        ext_ids=ext_ids,
        codec=choice.name,
        offered_codecs=choice.offered,
        rids=rids,
        ssrcs=[s for s in media.ssrcs if s not in fid.values()],
        rtx_ssrcs=fid,
        msid=msid,
    )
    return answer, negotiated


def _check_offer(offer: SessionDescription) -> list[str] | None:
    """Session-wide checks; returns the BUNDLE group's mids (None when there is no BUNDLE group)."""
    if not offer.media:
        raise SdpError("offer has no m= sections")
    if len(offer.media) > MAX_OFFER_SECTIONS:
        # Every m-line becomes a subscription for everyone else: their offers (and answers) would outgrow
        # what a browser and the signalling accept, and nobody's renegotiation would get through.
        raise SdpError(f"offer has {len(offer.media)} m= sections; at most {MAX_OFFER_SECTIONS} are accepted")
    if offer.ice_lite:
        raise SdpError("offer is ICE-lite; an ICE-lite server needs a full-ICE peer")
    mids = check_unique_mids(offer)
    bundle = offer.bundle_mids()
    if bundle is None and len(offer.media) > 1:
        raise SdpError("offer has several m= sections but no a=group:BUNDLE; the server has a single port")
    if bundle is not None:
        if len(set(bundle)) != len(bundle):
            raise SdpError(f"a=group:BUNDLE lists a mid twice: {shorten(' '.join(bundle))}")
        unknown = [m for m in bundle if m not in mids]
        if unknown:
            raise SdpError(f"a=group:BUNDLE names unknown mid {shorten(unknown[0])}")
    return bundle


def answer_publisher_offer(
    offer_text: str,
    server: ServerIdentity,
    *,
    session_id: int | None = None,
    session_version: int = 1,
    video_codecs: Sequence[str] = VIDEO_CODECS,
) -> tuple[str, PeerIdentity, list[NegotiatedMedia]]:
    """Answer a publisher PC offer: (answer SDP, the browser's transport identity, media it will send).

    Unusable m-lines stay in the answer with port 0. The NegotiatedMedia list holds only m-lines on which
    the browser sends (answered recvonly), in m-line order. Video takes the first codec of `video_codecs`
    the m-line offers. Raises SdpError for anything unacceptable.
    """
    offer = parse_sdp(offer_text)
    bundle = _check_offer(offer)
    if session_id is None:
        session_id = secrets.randbits(62)
    answer = SessionDescription(
        origin=f"- {session_id} {session_version} IN IP4 127.0.0.1",
        ice_lite=True,
        extmap_allow_mixed=offer.extmap_allow_mixed or any("extmap-allow-mixed" in m.other for m in offer.media),
        msid_semantic="WMS *",
    )
    identities: dict[str, PeerIdentity] = {}
    negotiated: list[NegotiatedMedia] = []
    refused: list[str] = []
    for media in offer.media:
        choice, reason = _usable(media, bundle, video_codecs)
        if choice is None:
            answer.media.append(_rejected(media))
            refused.append(f"mid {media.mid}: {reason}")
            continue
        identity = peer_identity(offer, media)
        setup = media.effective_setup(offer)
        if setup not in (None, "actpass", "active"):
            raise SdpError(f"mid {media.mid}: a=setup:{setup} in an offer; the server is always the DTLS server")
        section, info = _accept(media, choice, server)
        answer.media.append(section)
        identities[info.mid] = identity
        if section.direction == "recvonly":
            negotiated.append(info)
    if not identities:
        raise SdpError(f"offer has no usable m= section ({'; '.join(refused)})")
    if len(negotiated) > MAX_PUBLISHED_SECTIONS:
        raise SdpError(f"offer sends on {len(negotiated)} m= sections; at most {MAX_PUBLISHED_SECTIONS} "
                       "(microphone, camera, a screen share and its audio, and a margin)")
    accepted = list(identities)
    if bundle is not None:
        accepted = [mid for mid in bundle if mid in identities]
        answer.groups = [("BUNDLE", accepted)]
    # The bundled transport is the one described by the BUNDLE-tag (first accepted) m-line.
    return answer.serialize(), identities[accepted[0]], negotiated
