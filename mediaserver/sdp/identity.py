"""Transport identities (server and peer ICE/DTLS credentials) and constants shared by the negotiators."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
from dataclasses import dataclass
from typing import Final

from mediaserver.sdp.grammar import ICE_CHARS_RE, SHA256_HEX_RE, SdpError, normalize_fingerprint, shorten
from mediaserver.sdp.model import MediaSection, SessionDescription

PROTO: Final = "UDP/TLS/RTP/SAVPF"
DUMMY_CONNECTION: Final = "IN IP4 0.0.0.0"
# JSEP's placeholder port: the real address travels in the candidate line.
DUMMY_PORT: Final = 9

URI_MID: Final = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_RID: Final = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
URI_REPAIRED_RID: Final = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
URI_AUDIO_LEVEL: Final = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME: Final = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
URI_TRANSPORT_CC: Final = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

# Opus parameters we ask for on every connection: 10 ms minimum packets and in-band FEC, which
# subscribers behind lossy links benefit from since the SFU forwards it untouched.
OPUS_FMTP: Final = "minptime=10;useinbandfec=1"

# Chrome refuses mids longer than this (they travel in a one-byte RTP header extension).
MAX_MID_LENGTH: Final = 16


def announced_addresses(public_ip: str) -> list[str]:
    """The addresses in MEDIA_PUBLIC_IP ("203.0.113.7" or "203.0.113.7,2001:db8::7"), each an IP literal."""
    addresses = [part.strip() for part in public_ip.split(",") if part.strip()]
    if not addresses:
        raise ValueError("no address to announce")
    for address in addresses:
        ipaddress.ip_address(address)  # ValueError for a name: browsers take only IP literals in candidates
    return addresses


@dataclass
class ServerIdentity:
    """Our side of every transport: ICE-lite credentials, DTLS certificate fingerprint, the UDP port."""

    ice_ufrag: str
    ice_pwd: str
    fingerprint: str
    host: str
    port: int
    # Further addresses the same port is reached at (a dual-stack server announces its IPv6 one too).
    extra_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Programmer errors, not bad SDP: a bad identity would produce answers every browser rejects.
        check_ice_credentials(self.ice_ufrag, self.ice_pwd, error=ValueError)
        if SHA256_HEX_RE.fullmatch(self.fingerprint) is None or self.fingerprint != self.fingerprint.upper():
            raise ValueError("ServerIdentity.fingerprint must be 32 upper-case hex octets separated by colons")
        for host in (self.host, *self.extra_hosts):
            ipaddress.ip_address(host)  # raises ValueError; browsers take only IP literals here
        if not 1 <= self.port <= 65535:
            raise ValueError(f"ServerIdentity.port {self.port} is out of range")

    def candidate(self) -> str:
        """The first host candidate, as the value of an a=candidate line."""
        return self.candidates()[0]

    def candidates(self) -> list[str]:
        """One host candidate per address, the first preferred (RFC 8445 5.1.2: priority by local preference)."""
        return [f"{index + 1} 1 udp {2130706431 - index * 256} {host} {self.port} typ host"
                for index, host in enumerate((self.host, *self.extra_hosts))]

    def apply(self, media: MediaSection, setup: str) -> None:
        """Put our ICE/DTLS parameters and candidate into an m-section."""
        media.connection = DUMMY_CONNECTION
        media.ice_ufrag = self.ice_ufrag
        media.ice_pwd = self.ice_pwd
        media.fingerprint = ("sha-256", self.fingerprint)
        media.setup = setup
        media.candidates = self.candidates()
        media.end_of_candidates = True


@dataclass
class PeerIdentity:
    """The browser's side of the transport: what STUN checks and the DTLS handshake are verified against."""

    ice_ufrag: str
    ice_pwd: str
    fingerprint: tuple[str, str]


def sha256_fingerprint(der: bytes) -> str:
    """The SDP a=fingerprint value (without the algorithm) of a DER certificate: AB:CD:..., upper case."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


_ICE_ALPHABET: Final = string.ascii_letters + string.digits + "+/"


def random_ice_credentials() -> tuple[str, str]:
    """A fresh (ufrag, pwd) pair: 8 and 24 ice-chars, above RFC 8839's minimum entropy (24 and 128 bits)."""
    ufrag = "".join(secrets.choice(_ICE_ALPHABET) for _ in range(8))
    pwd = "".join(secrets.choice(_ICE_ALPHABET) for _ in range(24))
    return ufrag, pwd


def check_ice_credentials(ufrag: str, pwd: str, error: type[ValueError] = SdpError) -> None:
    """RFC 8839 section 5.4: ufrag 4-256 ice-chars, pwd 22-256 ice-chars."""
    if not 4 <= len(ufrag) <= 256 or ICE_CHARS_RE.fullmatch(ufrag) is None:
        raise error(f"ice-ufrag must be 4-256 of [A-Za-z0-9+/], got {shorten(ufrag)}")
    if not 22 <= len(pwd) <= 256 or ICE_CHARS_RE.fullmatch(pwd) is None:
        raise error("ice-pwd must be 22-256 of [A-Za-z0-9+/]")


def peer_identity(session: SessionDescription, media: MediaSection) -> PeerIdentity:
    """The remote ICE/DTLS identity declared for an m-section (session-level values are inherited)."""
    where = f"m= section mid {media.mid!r}"
    ufrag, pwd = media.effective_ice(session)
    if ufrag is None or pwd is None:
        raise SdpError(f"{where} has no a=ice-ufrag/a=ice-pwd")
    check_ice_credentials(ufrag, pwd)
    fingerprints = media.effective_fingerprints(session)
    if not fingerprints:
        raise SdpError(f"{where} has no a=fingerprint")
    sha256 = next((fp for alg, fp in fingerprints if alg.lower() == "sha-256"), None)
    if sha256 is None:
        algs = ", ".join(alg for alg, _ in fingerprints)
        raise SdpError(f"{where}: only sha-256 fingerprints are accepted, got {shorten(algs)}")
    return PeerIdentity(ufrag, pwd, ("sha-256", normalize_fingerprint(sha256)))


def check_mid(mid: str | None, index: int) -> str:
    if mid is None:
        raise SdpError(f"m= section {index} has no a=mid")
    if len(mid) > MAX_MID_LENGTH:
        raise SdpError(f"a=mid:{shorten(mid)} is longer than {MAX_MID_LENGTH} characters")
    return mid


def check_unique_mids(session: SessionDescription) -> list[str]:
    mids = [check_mid(m.mid, i) for i, m in enumerate(session.media)]
    if len(set(mids)) != len(mids):
        raise SdpError(f"duplicate a=mid values: {shorten(' '.join(mids))}")
    return mids
