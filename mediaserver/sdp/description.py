"""SDP data model: dataclasses for a session description and their serialization to SDP text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# RFC 4566 line order: these optional line types precede c= (session: i u e p; media: i) or follow
# t=/b= (session: r z k; media: k). They are kept verbatim and re-emitted in those positions.
SESSION_EXTRA_PRE: Final = frozenset("iuep")
SESSION_EXTRA_POST: Final = frozenset("rzk")
MEDIA_EXTRA_PRE: Final = frozenset("i")
MEDIA_EXTRA_POST: Final = frozenset("k")


@dataclass
class Codec:
    """One a=rtpmap with its a=fmtp (raw parameter text) and a=rtcp-fb values ("nack pli", ...)."""

    payload_type: int
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None
    rtcp_fb: list[str] = field(default_factory=list)

    def rtpmap(self) -> str:
        suffix = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.name}/{self.clock_rate}{suffix}"


@dataclass
class Rid:
    """An RFC 8851 a=rid line: direction is "send" or "recv", params the raw restriction text."""

    id: str
    direction: str
    params: str | None = None


@dataclass
class MediaSection:
    """One m= section. Attributes without a field are kept in `other` as the text after "a=".

    Transport fields (ICE, fingerprint, setup) hold only what the section itself declares; use the
    effective_* helpers to fall back to session level. `fingerprint` is the preferred (first sha-256)
    one, any others are in `extra_fingerprints`.
    """

    kind: str
    port: int
    proto: str
    formats: list[int] = field(default_factory=list)
    mid: str | None = None
    direction: str = "sendrecv"
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    fingerprint: tuple[str, str] | None = None
    setup: str | None = None
    rtcp_mux: bool = False
    rtcp_rsize: bool = False
    codecs: list[Codec] = field(default_factory=list)
    extmaps: dict[int, str] = field(default_factory=dict)
    # RFC 8285 directions of the extmaps that carry one (Firefox: `a=extmap:9/sendonly ...rtp-stream-id`).
    extmap_directions: dict[int, str] = field(default_factory=dict)
    rids: list[Rid] = field(default_factory=list)
    simulcast: str | None = None
    msid: str | None = None
    ssrcs: dict[int, dict[str, str]] = field(default_factory=dict)
    ssrc_groups: list[tuple[str, list[int]]] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    end_of_candidates: bool = False
    other: list[str] = field(default_factory=list)
    # Beyond the core fields: non-RTP m-lines (data channels) have token formats, not payload types.
    app_formats: list[str] = field(default_factory=list)
    connection: str | None = None
    bandwidth: list[str] = field(default_factory=list)
    extra_fingerprints: list[tuple[str, str]] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)

    @property
    def is_rtp(self) -> bool:
        return is_rtp_proto(self.proto)

    def codec(self, payload_type: int) -> Codec | None:
        return next((c for c in self.codecs if c.payload_type == payload_type), None)

    def effective_ice(self, session: SessionDescription) -> tuple[str | None, str | None]:
        """ICE ufrag/pwd for this m-line, falling back to session level (RFC 8839 section 5.4)."""
        return (self.ice_ufrag or session.ice_ufrag, self.ice_pwd or session.ice_pwd)

    def effective_fingerprints(self, session: SessionDescription) -> list[tuple[str, str]]:
        if self.fingerprint is not None:
            return [self.fingerprint, *self.extra_fingerprints]
        if session.fingerprint is not None:
            return [session.fingerprint, *session.extra_fingerprints]
        return []

    def effective_setup(self, session: SessionDescription) -> str | None:
        return self.setup or session.setup

    def serialize_lines(self) -> list[str]:
        fmts = [str(pt) for pt in self.formats] if self.is_rtp else self.app_formats
        out = [f"m={self.kind} {self.port} {self.proto} {' '.join(fmts)}".rstrip()]
        out += [line for line in self.extra_lines if line[0] in MEDIA_EXTRA_PRE]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidth]
        out += [line for line in self.extra_lines if line[0] not in MEDIA_EXTRA_PRE]
        if self.ice_ufrag is not None:
            out.append(f"a=ice-ufrag:{self.ice_ufrag}")
        if self.ice_pwd is not None:
            out.append(f"a=ice-pwd:{self.ice_pwd}")
        if self.fingerprint is not None:
            out += [f"a=fingerprint:{a} {v}" for a, v in [self.fingerprint, *self.extra_fingerprints]]
        if self.setup is not None:
            out.append(f"a=setup:{self.setup}")
        if self.mid is not None:
            out.append(f"a=mid:{self.mid}")
        out += [f"a=extmap:{ext_id}{'/' + d if (d := self.extmap_directions.get(ext_id)) else ''} {uri}"
                for ext_id, uri in self.extmaps.items()]
        out.append(f"a={self.direction}")
        if self.msid is not None:
            out.append(f"a=msid:{self.msid}")
        if self.rtcp_mux:
            out.append("a=rtcp-mux")
        if self.rtcp_rsize:
            out.append("a=rtcp-rsize")
        for codec in self.codecs:
            out.append(f"a=rtpmap:{codec.payload_type} {codec.rtpmap()}")
            out += [f"a=rtcp-fb:{codec.payload_type} {fb}" for fb in codec.rtcp_fb]
            if codec.fmtp is not None:
                out.append(f"a=fmtp:{codec.payload_type} {codec.fmtp}")
        for rid in self.rids:
            out.append(f"a=rid:{rid.id} {rid.direction}" + (f" {rid.params}" if rid.params else ""))
        if self.simulcast is not None:
            out.append(f"a=simulcast:{self.simulcast}")
        for semantics, group_ssrcs in self.ssrc_groups:
            out.append(f"a=ssrc-group:{semantics} {' '.join(map(str, group_ssrcs))}".rstrip())
        for ssrc, attrs in self.ssrcs.items():
            out += [f"a=ssrc:{ssrc} {k}:{v}" if v else f"a=ssrc:{ssrc} {k}" for k, v in attrs.items()]
        out += [f"a=candidate:{c}" for c in self.candidates]
        if self.end_of_candidates:
            out.append("a=end-of-candidates")
        out += [f"a={attr}" for attr in self.other]
        return out


@dataclass
class SessionDescription:
    """A whole SDP document; parse_sdp(d.serialize()) == d for every d that parse_sdp returned."""

    version: int = 0
    origin: str = "- 0 0 IN IP4 127.0.0.1"
    session_name: str = "-"
    timing: str = "0 0"
    groups: list[tuple[str, list[str]]] = field(default_factory=list)
    extmap_allow_mixed: bool = False
    ice_lite: bool = False
    ice_ufrag: str | None = None
    ice_pwd: str | None = None
    fingerprint: tuple[str, str] | None = None
    setup: str | None = None
    msid_semantic: str | None = None
    media: list[MediaSection] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    connection: str | None = None
    bandwidth: list[str] = field(default_factory=list)
    extra_fingerprints: list[tuple[str, str]] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)

    def bundle_mids(self) -> list[str] | None:
        """Mids of the first BUNDLE group, or None when there is no BUNDLE group."""
        return next((mids for semantics, mids in self.groups if semantics == "BUNDLE"), None)

    def media_by_mid(self, mid: str) -> MediaSection | None:
        return next((m for m in self.media if m.mid == mid), None)

    def serialize(self) -> str:
        out = [f"v={self.version}", f"o={self.origin}", f"s={self.session_name}".rstrip(" \t")]
        out += [line for line in self.extra_lines if line[0] in SESSION_EXTRA_PRE]
        if self.connection is not None:
            out.append(f"c={self.connection}")
        out += [f"b={b}" for b in self.bandwidth]
        out.append(f"t={self.timing}")
        out += [line for line in self.extra_lines if line[0] not in SESSION_EXTRA_PRE]
        if self.ice_lite:
            out.append("a=ice-lite")
        if self.ice_ufrag is not None:
            out.append(f"a=ice-ufrag:{self.ice_ufrag}")
        if self.ice_pwd is not None:
            out.append(f"a=ice-pwd:{self.ice_pwd}")
        if self.fingerprint is not None:
            out += [f"a=fingerprint:{a} {v}" for a, v in [self.fingerprint, *self.extra_fingerprints]]
        if self.setup is not None:
            out.append(f"a=setup:{self.setup}")
        out += [f"a=group:{semantics} {' '.join(mids)}".rstrip() for semantics, mids in self.groups]
        if self.extmap_allow_mixed:
            out.append("a=extmap-allow-mixed")
        if self.msid_semantic is not None:
            out.append(f"a=msid-semantic: {self.msid_semantic}")
        out += [f"a={attr}" for attr in self.other]
        for media in self.media:
            out += media.serialize_lines()
        return "\r\n".join(out) + "\r\n"


def is_rtp_proto(proto: str) -> bool:
    return "RTP" in proto.upper().split("/")
