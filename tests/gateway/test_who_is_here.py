"""GET /api/meetings/{id}/here: the first names of who is in a meeting and how many, rate-limited per address."""

from __future__ import annotations

from datetime import timedelta

from signaling_gateway.store.records import Participant, utcnow
from signaling_gateway.who_is_here import HERE_RATE, MAX_NAMES

from .conftest import Gateway


async def test_nobody_then_the_first_names_by_join_time_and_the_count(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    response = await client.get(f"/api/meetings/{meeting_id}/here")
    assert response.status == 200
    assert await response.json() == {"names": [], "count": 0}
    assert response.headers["Cache-Control"] == "no-store"

    start = utcnow()
    names = ["Oleh", "Ann", "Bo", "Dana", "Eve"]
    for index, name in enumerate(names):
        await offline.store.put_participant(Participant(
            id=f"p{index}", meeting_id=meeting_id, name=name, is_host=index == 0,
            joined_at=start + timedelta(seconds=index)))
    body = await (await client.get(f"/api/meetings/{meeting_id}/here")).json()
    assert body == {"names": names[:MAX_NAMES], "count": len(names)}

    await offline.store.delete_participant("p0")
    body = await (await client.get(f"/api/meetings/{meeting_id}/here")).json()
    assert body == {"names": names[1:1 + MAX_NAMES], "count": len(names) - 1}


async def test_an_unknown_meeting_is_a_404(offline: Gateway) -> None:
    client = await offline.client()
    assert (await client.get("/api/meetings/no-such-meeting/here")).status == 404


async def test_polling_too_fast_is_refused_with_retry_after(offline: Gateway) -> None:
    meeting_id = await offline.stored_meeting()
    client = await offline.client()
    statuses = [(await client.get(f"/api/meetings/{meeting_id}/here")).status for _ in range(int(HERE_RATE.burst))]
    assert statuses == [200] * int(HERE_RATE.burst)
    refused = await client.get(f"/api/meetings/{meeting_id}/here")
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
