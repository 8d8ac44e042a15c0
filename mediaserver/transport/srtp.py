"""SRTP/SRTCP contexts keyed from the DTLS handshake (pylibsrtp), one inbound and one outbound per peer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import pylibsrtp
from pylibsrtp import Error as SrtpError
from pylibsrtp import Policy, Session

try:  # the cffi binding pylibsrtp itself calls; absent in some other version, we fall back to its methods
    from pylibsrtp._binding import ffi, lib
except ImportError:  # pragma: no cover
    ffi = lib = None

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


# pylibsrtp's buffer size and its largest trailers (tag + MKI; SRTCP adds the 4-byte index).
_BUFFER = 1500
_RTP_TRAILER = 16 + 128
_RTCP_TRAILER = 4 + 16 + 128


def _lean(session: Session, name: str, trailer: int) -> Callable[[bytes], bytes]:
    """`session.<name>` without pylibsrtp's per-call allocation, type check and two extra Python calls.

    On the forwarding path protect runs once per outbound copy; this saves about 0.7 us of its 1.9 us
    (benchmarks/bench_forward_path.py). Same libsrtp call and buffer discipline; every failure, an oversized
    packet included (pylibsrtp raises ValueError for that), is an SrtpError, which callers drop per packet.
    """
    handle = getattr(session, "_srtp", None)
    if lib is None or handle is None:
        return _converting(getattr(session, name))
    func = getattr(lib, f"srtp_{name}")
    srtp = handle[0]
    cdata = ffi.new("char[]", _BUFFER)
    buffer = ffi.buffer(cdata)
    length = ffi.new("int *")
    limit = _BUFFER - trailer
    ok = lib.srtp_err_status_ok
    errors = getattr(pylibsrtp, "ERRORS", [])

    def process(packet: bytes, _keep: Session = session) -> bytes:  # _keep: the session owns `srtp`
        size = len(packet)
        if size > limit:
            raise SrtpError(f"packet of {size} bytes is too long for SRTP")
        length[0] = size
        buffer[0:size] = packet
        rc = func(srtp, cdata, length)
        if rc != ok:
            raise SrtpError(errors[rc] if 0 <= rc < len(errors) else f"libsrtp error {rc}")
        return buffer[0 : length[0]]

    return process


def _converting(method: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    def process(packet: bytes) -> bytes:
        try:
            return method(packet)
        except ValueError as exc:
            raise SrtpError(str(exc)) from exc

    return process


class SrtpContext:
    """Protect what we send and unprotect what we receive; pylibsrtp raises SrtpError per bad packet."""

    __slots__ = ("_rx", "_tx", "profile", "protect", "protect_rtcp", "unprotect", "unprotect_rtcp")

    def __init__(self, profile: SrtpProfile, rx_key: bytes, tx_key: bytes) -> None:
        self.profile = profile
        rx = _session(rx_key, profile, Policy.SSRC_ANY_INBOUND)
        tx = _session(tx_key, profile, Policy.SSRC_ANY_OUTBOUND)
        self._rx, self._tx = rx, tx  # kept to free one SSRC's stream (forget_inbound, forget_outbound)
        # Stored once: the hot path calls them without attribute lookups on the sessions.
        self.unprotect = _lean(rx, "unprotect", 0)
        self.unprotect_rtcp = _lean(rx, "unprotect_rtcp", 0)
        self.protect = _lean(tx, "protect", _RTP_TRAILER)
        self.protect_rtcp = _lean(tx, "protect_rtcp", _RTCP_TRAILER)

    def forget_inbound(self, ssrc: int) -> None:
        """Free libsrtp's stream for an SSRC the peer no longer sends on (it made one on the first packet)."""
        with contextlib.suppress(SrtpError):  # no packet of it was ever unprotected: there is no stream
            self._rx.remove_stream(ssrc)

    def forget_outbound(self, ssrc: int) -> None:
        """Free libsrtp's stream for an SSRC we no longer send on (the load generator's attackers churn them)."""
        with contextlib.suppress(SrtpError):
            self._tx.remove_stream(ssrc)
