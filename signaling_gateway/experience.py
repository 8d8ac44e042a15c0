"""User-experience metrics: join attempts, joins that reached media, time to first frame, call duration, clients.

Definitions (also in the README's metrics table):

* A **join attempt** is a socket of a new participant (not a resume) that was admitted to a live meeting and
  asked to join it; refusals before that (unauthorized, locked, unknown meeting) are not attempts.
* A join **reached media** when its client reported (`client_report`) that one of its connections to the
  media server carries media: its publisher connection connected (ICE and DTLS done), or a remote video
  frame decoded. Counted once per participant, so joins reached media / join attempts is the success rate.
* **Time to first frame**: what the client measured from opening its first signaling socket to the first
  decoded remote video frame; only clients that found someone's camera on when they joined time it (for
  one alone in a meeting it would measure the wait for company).
* **Call duration**: from the welcome to leaving for good (goodbye, kick, end, or a reconnect window that
  ran out), observed at that departure; a resume is not a departure.

All of it is counted on the gateway of the attempt: a participant resumed here after a gateway restart
counts its duration (from the store's join time) but no attempt and no report.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram

from .messages import BROWSER_FAMILIES, OS_FAMILIES, ClientReport
from .store.records import utcnow

FIRST_FRAME_BUCKETS_S = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)
CALL_DURATION_BUCKETS_S = (10, 30, 60, 120, 300, 600, 900, 1800, 2700, 3600, 5400, 7200, 14400, 28800)


@dataclass
class _Join:
    attempted: bool  # counted as an attempt here (False: resumed after a gateway restart)
    joined_at: float | None = None  # on the clock below
    reached_media: bool = False
    timed_first_frame: bool = False


class Experience:
    """Per-participant join state, kept from the attempt to the departure (so bounded by who is in a call)."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._joins: dict[str, _Join] = {}
        self.attempts = Counter("gateway_join_attempts", "New participants admitted to a meeting that tried to join",
                                registry=registry)
        self.reached_media = Counter("gateway_joins_reached_media",
                                     "Join attempts whose client reported media flowing (publisher connected or a "
                                     "remote frame decoded)", registry=registry)
        self.first_frame = Histogram("gateway_time_to_first_frame_seconds",
                                     "Client-measured time from opening the socket to the first decoded remote "
                                     "video frame", buckets=FIRST_FRAME_BUCKETS_S, registry=registry)
        self.duration = Histogram("gateway_call_duration_seconds",
                                  "Time from joining to leaving for good, per participant",
                                  buckets=CALL_DURATION_BUCKETS_S, registry=registry)
        self.browsers = Counter("gateway_client_browsers", "Joins that reached media, by browser family",
                                ["browser"], registry=registry)
        self.systems = Counter("gateway_client_os", "Joins that reached media, by operating-system family",
                               ["os"], registry=registry)
        # Every family exported from the start (at 0): a rate over a series that appears late misses its start.
        for browser in BROWSER_FAMILIES:
            self.browsers.labels(browser=browser)
        for system in OS_FAMILIES:
            self.systems.labels(os=system)

    def attempt(self, participant_id: str, *, resumed: bool) -> None:
        if resumed:
            return  # the same participant coming back: its attempt was counted when it first joined
        self.attempts.inc()
        self._joins[participant_id] = _Join(attempted=True)

    def joined(self, participant_id: str, since: datetime | None = None) -> None:
        """Welcomed; `since` is the store's join time for a participant this gateway had not seen."""
        join = self._joins.setdefault(participant_id, _Join(attempted=False))
        if join.joined_at is None:
            earlier = (utcnow() - since).total_seconds() if since is not None else 0.0
            join.joined_at = self._clock() - max(earlier, 0.0)

    def report(self, participant_id: str, report: ClientReport) -> None:
        join = self._joins.get(participant_id)
        if join is None or not join.attempted:
            return
        if not join.reached_media:
            join.reached_media = True
            self.reached_media.inc()
            self.browsers.labels(browser=report.browser).inc()
            self.systems.labels(os=report.os).inc()
        if report.first_frame_ms is not None and not join.timed_first_frame:
            join.timed_first_frame = True
            self.first_frame.observe(report.first_frame_ms / 1000)

    def departed(self, participant_id: str) -> None:
        join = self._joins.pop(participant_id, None)
        if join is not None and join.joined_at is not None:
            self.duration.observe(max(self._clock() - join.joined_at, 0.0))

    def forget(self, participant_id: str) -> None:
        """Another gateway took the participant over: no departure here, and nothing left to keep."""
        self._joins.pop(participant_id, None)

    @property
    def tracked(self) -> int:
        return len(self._joins)
