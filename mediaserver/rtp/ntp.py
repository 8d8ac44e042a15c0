"""NTP 64-bit timestamps as used by RTCP sender reports and RFC 3550 round-trip time estimation."""

import time

__all__ = ["NTP_UNIX_OFFSET", "ntp_from_unix", "ntp_middle32", "ntp_now", "ntp_to_unix", "rtt_seconds"]

# Seconds between the NTP epoch (1900) and the Unix epoch (1970).
NTP_UNIX_OFFSET = 2_208_988_800
_U32 = 0xFFFFFFFF
_U64 = 0xFFFFFFFFFFFFFFFF


def ntp_from_unix(seconds: float) -> int:
    """Convert Unix time in seconds to 64-bit NTP (32.32 fixed point, wrapping in 2036)."""
    whole = int(seconds)
    frac = int((seconds - whole) * 4294967296.0)
    return (((whole + NTP_UNIX_OFFSET) << 32) | (frac & _U32)) & _U64


def ntp_to_unix(ntp: int) -> float:
    """Convert 64-bit NTP to Unix seconds (valid for NTP era 0, i.e. until 2036)."""
    return (ntp >> 32) - NTP_UNIX_OFFSET + (ntp & _U32) / 4294967296.0


def ntp_now() -> int:
    """Current wall-clock time as 64-bit NTP."""
    return ntp_from_unix(time.time())


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits (16.16 fixed point) that RTCP carries as LSR and compares against."""
    return (ntp >> 16) & _U32


def rtt_seconds(lsr: int, dlsr: int, now_ntp: int) -> float | None:
    """RFC 3550 A.8 round trip: arrival - LSR - DLSR, in seconds; None if no SR was received.

    A negative result can only come from clock steps or DLSR rounding, so it is reported as 0.0
    instead of a bogus multi-hour value from the 32-bit wrap.
    """
    if lsr == 0:
        return None
    d = (ntp_middle32(now_ntp) - lsr - dlsr) & _U32
    if d & 0x80000000:
        return 0.0
    return d / 65536.0
