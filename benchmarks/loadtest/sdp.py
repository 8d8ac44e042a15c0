"""The bots' session descriptions: a Chrome-shaped simulcast publisher offer and answers to subscriber offers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from mediaserver.sdp.identity import URI_AUDIO_LEVEL, URI_MID, URI_REPAIRED_RID, URI_RID, URI_TRANSPORT_CC
from mediaserver.sdp.model import Codec, MediaSection, Rid, SdpError, SessionDescription, parse_sdp

from .packets import EXT_AUDIO_LEVEL, EXT_MID, EXT_REPAIRED_RID, EXT_RID

PROTO = "UDP/TLS/RTP/SAVPF"
OPUS_PT = 111
VP8_PT = 96
VP8_RTX_PT = 97
VIDEO_FEEDBACK = ["goog-remb", "ccm fir", "nack", "nack pli"]
AUDIO_MID = "0"
VIDEO_MID = "1"


@dataclass(frozen=True)
class LocalIdentity:
    """The bot's side of one connection: ICE credentials, certificate fingerprint and its socket."""

    ufrag: str
    pwd: str
    fingerprint: str
    host: str
    port: int

    def apply(self, media: MediaSection, setup: str) -> None:
        media.connection = "IN IP4 0.0.0.0"
        media.ice_ufrag = self.ufrag
        media.ice_pwd = self.pwd
        media.fingerprint = ("sha-256", self.fingerprint)
        media.setup = setup
        media.candidates = [f"1 1 udp 2130706431 {self.host} {self.port} typ host"]
        media.rtcp_mux = True
        media.rtcp_rsize = True


@dataclass(frozen=True)
class RemoteTransport:
    """What a connection needs from the server's description: where to send checks and what to verify."""

    ufrag: str
    pwd: str
    fingerprint: str
    host: str
    port: int
    setup: str | None = None  # the server's DTLS role as written in its description

    @property
    def dtls_client_is_us(self) -> bool:
        """Whether the bot runs the DTLS client: yes unless the server's answer took the active role."""
        return self.setup != "active"


@dataclass
class OfferedTrack:
    """One sendonly m-line of a subscriber offer: the forwarded track and its SSRC."""

    mid: str
    kind: str
    ssrc: int
    publisher_id: str
    track_id: str


@dataclass
class SubscriberOffer:
    remote: RemoteTransport | None
    tracks: list[OfferedTrack] = field(default_factory=list)
    mids: list[tuple[str, str, bool]] = field(default_factory=list)  # (mid, kind, active)
    transport_cc_id: int = 0  # the offer's transport-wide sequence number extension (0: none), kept in the answer


def publisher_offer(local: LocalIdentity, rids: list[str], stream_id: str,
                    ssrcs: dict[str, int] | None = None) -> str:
    """Audio + VP8 (simulcast when `rids` are given, as Chrome: no SSRCs), sendonly, Chrome's extension ids.

    Without simulcast, `ssrcs` ({"audio": .., "video": ..}) are declared, which peers that route by SSRC need.
    """
    session = SessionDescription(
        origin=f"- {secrets.randbits(62)} 2 IN IP4 127.0.0.1",
        groups=[("BUNDLE", [AUDIO_MID, VIDEO_MID])],
        extmap_allow_mixed=True,
        msid_semantic=f"WMS {stream_id}",
    )
    audio = MediaSection(kind="audio", port=9, proto=PROTO, mid=AUDIO_MID, direction="sendonly")
    local.apply(audio, "actpass")
    audio.extmaps = {EXT_AUDIO_LEVEL: URI_AUDIO_LEVEL, EXT_MID: URI_MID}
    audio.codecs = [Codec(OPUS_PT, "opus", 48000, 2, "minptime=10;useinbandfec=1")]
    audio.formats = [OPUS_PT]
    audio.msid = f"{stream_id} {stream_id}-audio"
    video = MediaSection(kind="video", port=9, proto=PROTO, mid=VIDEO_MID, direction="sendonly")
    local.apply(video, "actpass")
    video.extmaps = {EXT_MID: URI_MID, EXT_RID: URI_RID, EXT_REPAIRED_RID: URI_REPAIRED_RID}
    video.codecs = [
        Codec(VP8_PT, "VP8", 90000, None, None, list(VIDEO_FEEDBACK)),
        Codec(VP8_RTX_PT, "rtx", 90000, None, f"apt={VP8_PT}"),
    ]
    video.formats = [VP8_PT, VP8_RTX_PT]
    video.msid = f"{stream_id} {stream_id}-video"
    if rids:
        video.rids = [Rid(rid, "send") for rid in rids]
        video.simulcast = "send " + ";".join(rids)
    for section in (audio, video):
        ssrc = (ssrcs or {}).get(section.kind)
        if ssrc is not None:
            section.ssrcs[ssrc] = {"cname": stream_id, "msid": section.msid or ""}
    session.media = [audio, video]
    return session.serialize()


def _remote_of(session: SessionDescription, media: MediaSection) -> RemoteTransport:
    ufrag, pwd = media.effective_ice(session)
    fingerprints = media.effective_fingerprints(session)
    sha256 = next((value for alg, value in fingerprints if alg.lower() == "sha-256"), None)
    candidate = next((parts for c in media.candidates if len(parts := c.split()) >= 8 and parts[2].lower() == "udp"
                      and parts[7] == "host" and ":" not in parts[4]), None)
    if ufrag is None or pwd is None or sha256 is None or candidate is None:
        raise SdpError(f"mid {media.mid}: no ICE credentials, sha-256 fingerprint or IPv4 UDP host candidate")
    return RemoteTransport(ufrag, pwd, sha256.upper(), candidate[4], int(candidate[5]),
                           media.effective_setup(session))


def parse_publisher_answer(text: str) -> tuple[RemoteTransport, list[str]]:
    """The server's transport and the rids it accepted for the video m-line (empty: no simulcast)."""
    answer = parse_sdp(text)
    if not answer.media:
        raise SdpError("answer has no m-lines")
    active = [m for m in answer.media if m.port != 0]
    if not active:
        raise SdpError("the server rejected every m-line")
    video = answer.media_by_mid(VIDEO_MID)
    rids = [r.id for r in video.rids if r.direction == "recv"] if video is not None else []
    return _remote_of(answer, active[0]), rids


def parse_subscriber_offer(text: str) -> SubscriberOffer:
    """The tracks (by SSRC) a subscriber offer forwards and the server transport it describes."""
    offer = parse_sdp(text)
    if not offer.media:
        return SubscriberOffer(remote=None)
    result = SubscriberOffer(remote=_remote_of(offer, offer.media[0]))
    for media in offer.media:
        mid = media.mid or ""
        result.transport_cc_id = result.transport_cc_id or next(
            (ext_id for ext_id, uri in media.extmaps.items() if uri == URI_TRANSPORT_CC), 0)
        sending = media.direction in ("sendonly", "sendrecv") and media.port != 0
        result.mids.append((mid, media.kind, sending))
        if not sending or not media.ssrcs:
            continue
        msid = media.msid or next((a.get("msid") for a in media.ssrcs.values() if a.get("msid")), None) or ""
        parts = msid.split()
        ssrc = next(iter(media.ssrcs))
        result.tracks.append(OfferedTrack(mid, media.kind, ssrc, parts[0] if parts else "",
                                          parts[1] if len(parts) > 1 else mid))
    return result


def subscriber_answer(offer_text: str, local: LocalIdentity) -> str:
    """Accept every m-line recvonly (inactive stays inactive), bundled, with the bot as the DTLS client."""
    offer = parse_sdp(offer_text)
    answer = SessionDescription(origin=f"- {secrets.randbits(62)} 2 IN IP4 127.0.0.1",
                                extmap_allow_mixed=offer.extmap_allow_mixed, msid_semantic="WMS")
    for media in offer.media:
        section = MediaSection(kind=media.kind, port=9, proto=media.proto, mid=media.mid)
        local.apply(section, "active")
        section.direction = "recvonly" if media.direction in ("sendonly", "sendrecv") else "inactive"
        section.extmaps = dict(media.extmaps)
        wanted = "opus" if media.kind == "audio" else "vp8"
        codec = next((c for c in media.codecs if c.name.lower() == wanted), None)
        if codec is None:
            raise SdpError(f"mid {media.mid}: the offer has no {wanted}")
        section.codecs = [codec]
        section.formats = [codec.payload_type]
        answer.media.append(section)
    if answer.media:
        answer.groups = [("BUNDLE", [m.mid or "" for m in answer.media])]
    return answer.serialize()
