"""Which SSRCs a peer may send on: checked on the clear RTP/RTCP header, before libsrtp sees the packet.

libsrtp, told to accept any inbound SSRC, makes a stream (about 0.8 KB, looked up linearly) for every new SSRC
it is given and never frees one: 50,000 SSRCs from one publisher made each unprotect cost 1.9 ms instead of
1.2 us and held the media server at a full core. A peer sends on a handful of SSRCs (audio, three simulcast
layers and their RTX, a screen share); new ones beyond a burst come at a small rate, SSRCs past the cap are
dropped and counted, and the room frees the ones it replaces or stops using. Pure: the caller passes the time.
"""

from __future__ import annotations

from typing import Final

from .token_bucket import TokenBucket

MAX_SSRCS: Final = 16  # RTP, per transport at once
NEW_SSRC_BURST: Final = 16
NEW_SSRC_RATE: Final = 2.0  # per second, once the burst is spent
# RTCP senders: a receiving browser may report from one SSRC per m-line it receives on (Firefox does), and a
# subscriber in a 20-person room receives on up to 19 x (audio, camera, screen share and its audio).
MAX_RTCP_SSRCS: Final = 128
NEW_RTCP_SSRC_RATE: Final = 8.0
REPORT_INTERVAL_S: Final = 10.0  # drops are logged at most this often, as one line with the count
# Past this many drops within one second the peer is not a browser: it is cut off (no browser comes near).
DISCONNECT_DROPS_PER_S: Final = 1000


class SsrcGate:
    __slots__ = ("_new", "_reported", "_reported_at", "_second", "_second_drops", "dropped", "known", "max_ssrcs")

    def __init__(self, now: float, max_ssrcs: int = MAX_SSRCS, burst: int = NEW_SSRC_BURST,
                 rate: float = NEW_SSRC_RATE) -> None:
        self.known: set[int] = set()
        self.dropped = 0
        self.max_ssrcs = max_ssrcs
        self._new = TokenBucket(rate, burst, now)  # new SSRCs: a burst, then the rate
        self._reported = 0
        self._reported_at = now - REPORT_INTERVAL_S
        self._second = now
        self._second_drops = 0

    def admit(self, ssrc: int, now: float) -> bool:
        """A packet on an SSRC not in `known` (the caller checks that first, on every packet)."""
        if len(self.known) >= self.max_ssrcs or not self._new.allow(now):
            self.dropped += 1
            if now - self._second >= 1.0:
                self._second, self._second_drops = now, 0
            self._second_drops += 1
            return False
        self.known.add(ssrc)
        return True

    @property
    def over_limit(self) -> bool:
        """Dropped more in the current second than any browser could send: time to cut the peer off."""
        return self._second_drops > DISCONNECT_DROPS_PER_S

    def forget(self, ssrc: int) -> bool:
        """The room stopped using it (replaced by a new SSRC for the same layer, or its track stopped)."""
        if ssrc not in self.known:
            return False
        self.known.discard(ssrc)
        return True

    def report_due(self, now: float) -> int:
        """Drops since the last report, when a report is due (else 0): one log line per interval at most."""
        if self.dropped == self._reported or now - self._reported_at < REPORT_INTERVAL_S:
            return 0
        fresh = self.dropped - self._reported
        self._reported, self._reported_at = self.dropped, now
        return fresh
