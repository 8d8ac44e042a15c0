"""GET /api/meetings/{id}/here: who is already in a meeting, for the pre-join page ("Oleh and 2 others").

Read-only and for guests too: the meeting id is the capability (whoever has the link may join and see everyone
anyway). It says little on purpose: the first few names by join time and how many there are in all, and it is
rate-limited per client address like POST /join, since the pre-join page polls it every few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from prometheus_client import Counter

from .http_limits import client_address, retry_after_header
from .meetings import Meetings
from .store import Store, StoreUnavailable
from .token_bucket import KeyedBuckets, Rate

# The page shows at most three names ("Oleh, Ann and 3 others"); the rest is a count.
MAX_NAMES = 3
# One pre-join page polls every 4 s; a burst leaves room for a few tabs behind one address.
HERE_RATE = Rate(per_second=1.0, burst=20)


class WhoIsHere:
    def __init__(self, *, meetings: Meetings, store: Store, refusals: Counter, trust_forwarded_for: bool,
                 rate: Rate = HERE_RATE, clock: Callable[[], float] = time.monotonic) -> None:
        self._meetings = meetings
        self._store = store
        self._refusals = refusals
        self._trust = trust_forwarded_for
        self._buckets = KeyedBuckets(rate, clock=clock)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/meetings/{meeting_id}/here", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        address = client_address(request, self._trust)
        if not self._buckets.take(address):
            self._refusals.labels(limit="who_is_here").inc()
            return web.json_response({"error": "rate_limited"}, status=429,
                                     headers=retry_after_header(self._buckets.retry_after(address)))
        try:
            meeting = await self._meetings.get(request.match_info["meeting_id"])
            if meeting is None:
                return web.json_response({"error": "not_found"}, status=404)
            participants = await self._store.list_participants(meeting.id)
        except StoreUnavailable:
            return web.json_response({"error": "unavailable"}, status=503)
        names = [participant.name for participant in participants[:MAX_NAMES]]
        return web.json_response({"names": names, "count": len(participants)},
                                 headers={"Cache-Control": "no-store"})
