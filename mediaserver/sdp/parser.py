"""SDP parser: strict line-by-line parsing into the model dataclasses, bounded in size, SdpError on any fault."""

from __future__ import annotations

import re
from typing import Final

from mediaserver.sdp.description import (
    MEDIA_EXTRA_POST,
    MEDIA_EXTRA_PRE,
    SESSION_EXTRA_POST,
    SESSION_EXTRA_PRE,
    Codec,
    MediaSection,
    Rid,
    SessionDescription,
)
from mediaserver.sdp.grammar import (
    DIRECTIONS,
    PROTO_RE,
    RID_RE,
    SETUP_ROLES,
    SdpError,
    is_token,
    parse_rtpmap,
    parse_simulcast,
    parse_uint,
    shorten,
)

# A 20-person meeting's subscriber answer is ~40 m-lines of ~1 KB; these leave ample room while
# bounding the work an attacker can make us do with one signalling message.
MAX_SDP_CHARS: Final = 256 * 1024
MAX_SDP_LINES: Final = 8192
# Tab is tolerated; every other C0 control (CR included, once the line end is removed) and DEL is not.
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def _split_lines(text: str) -> list[tuple[int, str]]:
    if not isinstance(text, str):
        raise SdpError(f"SDP must be text, got {type(text).__name__}")
    if len(text) > MAX_SDP_CHARS:
        raise SdpError(f"SDP is {len(text)} characters, more than the {MAX_SDP_CHARS} accepted")
    lines: list[tuple[int, str]] = []
    # Split on \n only: str.splitlines() would also break on \x1c, \u2028 and friends.
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        line = line.rstrip(" \t")
        if not line:
            continue  # blank lines (e.g. after the final CRLF) carry nothing
        if len(lines) >= MAX_SDP_LINES:
            raise SdpError(f"SDP has more than {MAX_SDP_LINES} lines")
        bad = _CONTROL_RE.search(line)
        if bad is not None:
            raise SdpError(f"line {number}: control character {bad.group()!r} in {shorten(line)}")
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise SdpError(f"line {number}: expected '<letter>=<value>', got {shorten(line)}")
        lines.append((number, line))
    return lines


def _split_attr(body: str, where: str) -> tuple[str, str | None]:
    name, sep, value = body.partition(":")
    if not is_token(name):
        raise SdpError(f"{where}: invalid attribute name in a={shorten(body)}")
    return name, (value if sep else None)


def _required(name: str, value: str | None, where: str) -> str:
    if value is None or not value.strip():
        raise SdpError(f"{where}: a={name} needs a value")
    return value.strip()


def _flag(name: str, value: str | None, where: str) -> bool:
    if value is not None:
        raise SdpError(f"{where}: a={name} takes no value")
    return True


def _fingerprint(value: str | None, where: str) -> tuple[str, str]:
    parts = _required("fingerprint", value, where).split()
    if len(parts) != 2 or not is_token(parts[0]):
        raise SdpError(f"{where}: a=fingerprint must be '<hash function> <hex>', got {shorten(value or '')}")
    return parts[0], parts[1]


class _Transport:
    """ICE/DTLS attributes shared by session and media level, with duplicate detection."""

    def __init__(self) -> None:
        self.ice_ufrag: str | None = None
        self.ice_pwd: str | None = None
        self.setup: str | None = None
        self.fingerprints: list[tuple[str, str]] = []

    def take(self, name: str, value: str | None, where: str) -> bool:
        if name in ("ice-ufrag", "ice-pwd", "setup"):
            attr = name.replace("-", "_")
            if getattr(self, attr) is not None:
                raise SdpError(f"{where}: a={name} given twice")
            text = _required(name, value, where)
            if name == "setup" and text not in SETUP_ROLES:
                raise SdpError(f"{where}: a=setup must be one of {', '.join(SETUP_ROLES)}, got {shorten(text)}")
            setattr(self, attr, text)
            return True
        if name == "fingerprint":
            self.fingerprints.append(_fingerprint(value, where))
            return True
        return False

    def split_fingerprints(self) -> tuple[tuple[str, str] | None, list[tuple[str, str]]]:
        """(preferred, rest): the first sha-256 one is preferred since that is the one WebRTC uses."""
        fps = self.fingerprints
        if not fps:
            return None, []
        index = next((i for i, (alg, _) in enumerate(fps) if alg.lower() == "sha-256"), 0)
        return fps[index], fps[:index] + fps[index + 1 :]


def _parse_session_line(sd: SessionDescription, tr: _Transport, seen: set[str], number: int, line: str) -> None:
    kind, value = line[0], line[2:]
    where = f"line {number}"
    if kind in "vostc":
        if kind in seen:
            raise SdpError(f"{where}: more than one {kind}= line at session level")
        seen.add(kind)
    if kind == "v":
        raise SdpError(f"{where}: v= must be the first line")
    if kind == "o":
        parts = value.split()
        if len(parts) != 6:
            raise SdpError(f"{where}: o= needs 6 fields, got {shorten(value)}")
        sd.origin = " ".join(parts)
    elif kind == "s":
        sd.session_name = value
    elif kind == "t":
        parts = value.split()
        if len(parts) != 2:
            raise SdpError(f"{where}: t= needs '<start> <stop>', got {shorten(value)}")
        sd.timing = " ".join(parts)
    elif kind == "c":
        sd.connection = _required("c", value, where)
    elif kind == "b":
        sd.bandwidth.append(_required("b", value, where))
    elif kind in SESSION_EXTRA_PRE or kind in SESSION_EXTRA_POST:
        sd.extra_lines.append(line)
    elif kind == "a":
        _parse_session_attr(sd, tr, value, where)
    else:
        raise SdpError(f"{where}: unknown line type {kind}= at session level")


def _parse_session_attr(sd: SessionDescription, tr: _Transport, body: str, where: str) -> None:
    name, value = _split_attr(body, where)
    if tr.take(name, value, where):
        return
    if name == "ice-lite":
        sd.ice_lite = _flag(name, value, where)
    elif name == "extmap-allow-mixed":
        sd.extmap_allow_mixed = _flag(name, value, where)
    elif name == "group":
        parts = _required(name, value, where).split()
        if not all(is_token(p) for p in parts):
            raise SdpError(f"{where}: a=group has an invalid identifier: {shorten(body)}")
        sd.groups.append((parts[0], parts[1:]))
    elif name == "msid-semantic":
        if sd.msid_semantic is not None:
            raise SdpError(f"{where}: a=msid-semantic given twice")
        sd.msid_semantic = _required(name, value, where)
    else:
        sd.other.append(body)


def _parse_media_line(number: int, line: str) -> MediaSection:
    where = f"line {number}"
    parts = line[2:].split()
    if len(parts) < 4:
        raise SdpError(f"{where}: m= needs '<media> <port> <proto> <fmt> ...', got {shorten(line)}")
    kind, port_text, proto, fmts = parts[0], parts[1], parts[2], parts[3:]
    if not is_token(kind):
        raise SdpError(f"{where}: invalid media type {shorten(kind)}")
    if "/" in port_text:
        raise SdpError(f"{where}: port ranges ({port_text}) are not supported")
    port = parse_uint(port_text, f"{where}: m= port", 65535)
    if PROTO_RE.fullmatch(proto) is None:
        raise SdpError(f"{where}: invalid transport protocol {shorten(proto)}")
    media = MediaSection(kind=kind, port=port, proto=proto)
    if media.is_rtp:
        media.formats = [parse_uint(f, f"{where}: m= payload type", 127) for f in fmts]
        if len(set(media.formats)) != len(media.formats):
            raise SdpError(f"{where}: m= lists a payload type twice")
    else:
        if not all(is_token(f) for f in fmts):
            raise SdpError(f"{where}: invalid format in {shorten(line)}")
        media.app_formats = fmts
    return media


class _MediaBuilder:
    """Accumulates one m= section; rtcp-fb and fmtp are resolved after all rtpmaps are known."""

    def __init__(self, media: MediaSection) -> None:
        self.media = media
        self.transport = _Transport()
        self.seen: set[str] = set()
        self.deferred: list[tuple[str, str, str]] = []  # (attribute name, value, where)

    def line(self, number: int, line: str) -> None:
        kind, value = line[0], line[2:]
        where = f"line {number}"
        m = self.media
        if kind == "c":
            if m.connection is not None:
                raise SdpError(f"{where}: more than one c= line in the m= section")
            m.connection = _required("c", value, where)
        elif kind == "b":
            m.bandwidth.append(_required("b", value, where))
        elif kind in MEDIA_EXTRA_PRE or kind in MEDIA_EXTRA_POST:
            m.extra_lines.append(line)
        elif kind == "a":
            self.attribute(value, where)
        elif kind in "vostuepzr":
            raise SdpError(f"{where}: {kind}= is only allowed at session level")
        else:
            raise SdpError(f"{where}: unknown line type {kind}=")

    def once(self, name: str, where: str) -> None:
        if name in self.seen:
            raise SdpError(f"{where}: a={name} given twice in one m= section")
        self.seen.add(name)

    def attribute(self, body: str, where: str) -> None:
        name, value = _split_attr(body, where)
        m = self.media
        if self.transport.take(name, value, where):
            return
        if name in DIRECTIONS:
            if "direction" in self.seen:
                raise SdpError(f"{where}: a={name} after another direction attribute in one m= section")
            self.seen.add("direction")
            _flag(name, value, where)
            m.direction = name
        elif name == "mid":
            self.once(name, where)
            mid = _required(name, value, where)
            if not is_token(mid):
                raise SdpError(f"{where}: invalid a=mid value {shorten(mid)}")
            m.mid = mid
        elif name in ("rtcp-mux", "rtcp-rsize", "end-of-candidates"):
            setattr(m, name.replace("-", "_"), _flag(name, value, where))
        elif name == "rtpmap" and m.is_rtp:
            pt, enc, clock, channels = parse_rtpmap(_required(name, value, where))
            if pt not in m.formats:
                raise SdpError(f"{where}: a=rtpmap:{pt} is for a payload type not listed on the m= line")
            if m.codec(pt) is not None:
                raise SdpError(f"{where}: a=rtpmap:{pt} given twice")
            m.codecs.append(Codec(pt, enc, clock, channels))
        elif name in ("fmtp", "rtcp-fb") and m.is_rtp:
            self.deferred.append((name, _required(name, value, where), where))
        elif name == "extmap":
            self.extmap(body, _required(name, value, where), where)
        elif name == "rid":
            self.rid(_required(name, value, where), where)
        elif name == "simulcast":
            self.once(name, where)
            text = _required(name, value, where)
            parse_simulcast(text)
            m.simulcast = text
        elif name == "msid" and m.msid is None:
            m.msid = _required(name, value, where)
        elif name == "ssrc":
            self.ssrc(_required(name, value, where), where)
        elif name == "ssrc-group":
            parts = _required(name, value, where).split()
            if not is_token(parts[0]) or len(parts) < 2:
                raise SdpError(f"{where}: a=ssrc-group needs '<semantics> <ssrc> ...'")
            m.ssrc_groups.append((parts[0], [parse_uint(p, f"{where}: ssrc", 2**32 - 1) for p in parts[1:]]))
        elif name == "candidate":
            if value is None or not value.strip():
                raise SdpError(f"{where}: a=candidate needs a value")
            m.candidates.append(value)
        else:
            m.other.append(body)

    def extmap(self, body: str, value: str, where: str) -> None:
        parts = value.split()
        if len(parts) < 2:
            raise SdpError(f"{where}: a=extmap needs '<id>[/<direction>] <uri>', got {shorten(value)}")
        if len(parts) > 2:
            # Extension attributes after the URI are rare; verbatim in `other` keeps `extmaps` an id -> uri map.
            self.media.other.append(body)
            return
        raw_id, _, direction = parts[0].partition("/")
        if direction and direction not in DIRECTIONS:
            raise SdpError(f"{where}: a=extmap direction {shorten(direction)} is not one of RFC 8285's")
        ext_id = parse_uint(raw_id, f"{where}: a=extmap id", 255)
        if ext_id == 0:
            raise SdpError(f"{where}: a=extmap id 0 is reserved")
        if ext_id in self.media.extmaps:
            raise SdpError(f"{where}: a=extmap id {ext_id} given twice")
        self.media.extmaps[ext_id] = parts[1]
        if direction:
            self.media.extmap_directions[ext_id] = direction

    def rid(self, value: str, where: str) -> None:
        parts = value.split(None, 2)
        if len(parts) < 2 or RID_RE.fullmatch(parts[0]) is None or parts[1] not in ("send", "recv"):
            raise SdpError(f"{where}: a=rid needs '<rid> send|recv [params]', got {shorten(value)}")
        if any(r.id == parts[0] for r in self.media.rids):
            raise SdpError(f"{where}: a=rid:{parts[0]} given twice")
        params = parts[2].strip() if len(parts) == 3 else None
        self.media.rids.append(Rid(parts[0], parts[1], params or None))

    def ssrc(self, value: str, where: str) -> None:
        parts = value.split(None, 1)
        if len(parts) != 2:
            raise SdpError(f"{where}: a=ssrc needs '<ssrc> <attribute>[:<value>]', got {shorten(value)}")
        ssrc = parse_uint(parts[0], f"{where}: ssrc", 2**32 - 1)
        attr, _, attr_value = parts[1].partition(":")
        if not is_token(attr):
            raise SdpError(f"{where}: invalid a=ssrc attribute name {shorten(attr)}")
        attrs = self.media.ssrcs.setdefault(ssrc, {})
        if attr in attrs:
            raise SdpError(f"{where}: a=ssrc:{ssrc} {attr} given twice")
        attrs[attr] = attr_value

    def finish(self) -> MediaSection:
        m = self.media
        for name, value, where in self.deferred:
            target, _, rest = value.partition(" ")
            rest = rest.strip()
            if not rest:
                raise SdpError(f"{where}: a={name} needs '<payload type> <value>', got {shorten(value)}")
            codec = m.codec(int(target)) if target.isascii() and target.isdigit() and len(target) < 4 else None
            if codec is None:
                # Wildcard or static payload types without an rtpmap: keep verbatim.
                m.other.append(f"{name}:{target} {rest}")
            elif name == "rtcp-fb":
                codec.rtcp_fb.append(" ".join(rest.split()))
            elif codec.fmtp is not None:
                raise SdpError(f"{where}: a=fmtp:{target} given twice")
            else:
                codec.fmtp = rest
        m.ice_ufrag, m.ice_pwd, m.setup = (
            self.transport.ice_ufrag,
            self.transport.ice_pwd,
            self.transport.setup,
        )
        m.fingerprint, m.extra_fingerprints = self.transport.split_fingerprints()
        m.extra_lines = [x for x in m.extra_lines if x[0] in MEDIA_EXTRA_PRE] + [
            x for x in m.extra_lines if x[0] not in MEDIA_EXTRA_PRE
        ]
        return m


def parse_sdp(text: str) -> SessionDescription:
    """Parse SDP text (CRLF or LF line ends); raises SdpError for anything malformed."""
    lines = _split_lines(text)
    if not lines:
        raise SdpError("SDP is empty")
    number, first = lines[0]
    if first[0] != "v":
        raise SdpError(f"line {number}: SDP must start with v=, got {shorten(first)}")
    if first[2:] != "0":
        raise SdpError(f"line {number}: unsupported SDP version {shorten(first[2:])}")
    sd = SessionDescription()
    session_tr = _Transport()
    seen: set[str] = {"v"}
    builders: list[_MediaBuilder] = []
    for number, line in lines[1:]:
        try:
            if line[0] == "m":
                builders.append(_MediaBuilder(_parse_media_line(number, line)))
            elif builders:
                builders[-1].line(number, line)
            else:
                _parse_session_line(sd, session_tr, seen, number, line)
        except SdpError as exc:
            # Field parsers do not know where they are; say which line so the message is actionable.
            if str(exc).startswith("line "):
                raise
            raise SdpError(f"line {number}: {exc}") from None
    for required in "ost":
        if required not in seen:
            raise SdpError(f"SDP has no {required}= line")
    sd.ice_ufrag, sd.ice_pwd, sd.setup = session_tr.ice_ufrag, session_tr.ice_pwd, session_tr.setup
    sd.fingerprint, sd.extra_fingerprints = session_tr.split_fingerprints()
    sd.extra_lines = [x for x in sd.extra_lines if x[0] in SESSION_EXTRA_PRE] + [
        x for x in sd.extra_lines if x[0] not in SESSION_EXTRA_PRE
    ]
    sd.media = [b.finish() for b in builders]
    return sd
