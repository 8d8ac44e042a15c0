"""SRTP/SRTCP contexts keyed from the DTLS handshake (pylibsrtp), one inbound and one outbound per peer."""

from __future__ import annotations

from dataclasses import dataclass

from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session

__all__ = ["PROFILES", "SrtpContext", "SrtpError", "SrtpProfile"]


@dataclass(frozen=True)
class SrtpProfile:
    openssl_name: bytes
    libsrtp_profile: int
    key_length: int
    salt_length: int

    def split_keying_material(self, material: bytes) -> tuple[bytes, bytes]:
        """RFC 5764 §4.2: client key, server key, client salt, server salt -> (client, server) key+salt."""
        k, s = self.key_length, self.salt_length
        client = material[0:k] + material[2 * k : 2 * k + s]
        server = material[k : 2 * k] + material[2 * k + s : 2 * k + 2 * s]
        return client, server


PROFILES: dict[bytes, SrtpProfile] = {
    p.openssl_name: p
    for p in (
        SrtpProfile(b"SRTP_AEAD_AES_256_GCM", Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32, 12),
        SrtpProfile(b"SRTP_AEAD_AES_128_GCM", Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16, 12),
        SrtpProfile(b"SRTP_AES128_CM_SHA1_80", Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 16, 14),
    )
}


def _session(key: bytes, profile: SrtpProfile, direction: int) -> Session:
    policy = Policy(key=key, ssrc_type=direction, srtp_profile=profile.libsrtp_profile)
    # NACK answers re-send a sequence number already protected once.
    policy.allow_repeat_tx = True
    policy.window_size = 1024
    return Session(policy)


class SrtpContext:
    """Protect what we send and unprotect what we receive; pylibsrtp raises SrtpError per bad packet."""

    __slots__ = ("profile", "protect", "protect_rtcp", "unprotect", "unprotect_rtcp")

    def __init__(self, profile: SrtpProfile, rx_key: bytes, tx_key: bytes) -> None:
        self.profile = profile
        rx = _session(rx_key, profile, Policy.SSRC_ANY_INBOUND)
        tx = _session(tx_key, profile, Policy.SSRC_ANY_OUTBOUND)
        # Bound methods stored once: the hot path calls them without attribute lookups on the sessions.
        self.unprotect = rx.unprotect
        self.unprotect_rtcp = rx.unprotect_rtcp
        self.protect = tx.protect
        self.protect_rtcp = tx.protect_rtcp
