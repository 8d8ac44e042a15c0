"""The TURN autoscaler against a local server with DigitalOcean's droplet and droplet-action endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import given, settings
from hypothesis import strategies as st

from turn.autoscaler.do_api import ApiError, DropletApi
from turn.autoscaler.policy import OFF_AFTER_S, ON_ABOVE, ScalePolicy
from turn.autoscaler.relayed import relayed_in
from turn.autoscaler.scaler import Autoscaler

from .fake_digitalocean import TOKEN, FakeDroplet

Cloud = tuple[FakeDroplet, str, aiohttp.ClientSession]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def cloud() -> AsyncIterator[Cloud]:
    droplet = FakeDroplet()
    server = TestServer(droplet.app())
    await server.start_server()
    async with aiohttp.ClientSession() as session:
        yield droplet, str(server.make_url("")), session
    await server.close()


def scaler_for(cloud: Cloud, counts: list[int], clock: Clock,
               *, dry_run: bool = False, timeout_s: float = 2.0) -> Autoscaler:
    droplet, url, session = cloud
    api = DropletApi(session, TOKEN, droplet.droplet_id, url, timeout_s=timeout_s, backoff_s=0.01)

    async def relayed() -> int:
        return counts[0]

    return Autoscaler(api, relayed, dry_run=dry_run, clock=clock)


async def test_on_above_five_relayed_and_off_after_ten_idle_minutes(cloud: Cloud) -> None:
    droplet = cloud[0]
    clock, counts = Clock(), [5]
    scaler = scaler_for(cloud, counts, clock)
    assert await scaler.step() is None and droplet.status == "off"  # 5 is not more than 5
    counts[0] = 6
    assert await scaler.step() == "power_on" and droplet.status == "active"
    counts[0] = 0
    for minute in range(10):
        clock.now = 60.0 * minute
        assert await scaler.step() is None, f"powered off after {minute} idle minutes"
    clock.now = 600.0
    assert await scaler.step() == "power_off" and droplet.status == "off"
    posts = [path for method, path in droplet.requests if method == "POST"]
    assert len(posts) == 2


async def test_a_failing_or_silent_api_is_retried_with_backoff_and_changes_nothing_meanwhile(cloud: Cloud) -> None:
    droplet = cloud[0]
    clock, counts = Clock(), [9]
    droplet.faults = ["error", "error"]  # two 500s, then it answers
    scaler = scaler_for(cloud, counts, clock, timeout_s=0.3)
    assert await scaler.step() == "power_on"  # retried through the errors
    droplet.status = "off"
    droplet.faults = ["hang"] * 4  # every attempt times out: no decision at all this round
    assert await scaler.step() is None
    assert droplet.status == "off"
    assert scaler.metrics.registry.get_sample_value("turn_autoscaler_failed_looks_total") == 1  # counted
    assert await scaler.step() == "power_on"  # the next round, the API back


async def test_a_refused_request_is_not_retried(cloud: Cloud) -> None:
    droplet, url, session = cloud
    api = DropletApi(session, "wrong-token", droplet.droplet_id, url, backoff_s=0.01)
    with pytest.raises(ApiError, match="401"):
        await api.is_active()
    assert len(droplet.requests) == 1


async def test_a_dry_run_decides_but_never_powers(cloud: Cloud) -> None:
    droplet = cloud[0]
    scaler = scaler_for(cloud, [20], Clock(), dry_run=True)
    assert await scaler.step() == "power_on"
    assert droplet.status == "off" and not [m for m, _ in droplet.requests if m == "POST"]


def test_the_relayed_count_is_the_gateways_gauge() -> None:
    text = "# HELP gateway_relayed_participants x\n# TYPE gateway_relayed_participants gauge\n" \
           "gateway_relayed_participants 7.0\n"
    assert relayed_in(text) == 7
    with pytest.raises(ValueError):
        relayed_in("other_metric 1.0\n")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(1, 400)), min_size=1, max_size=80))
def test_the_policy_never_flaps_and_follows_the_rule(steps: list[tuple[int, float]]) -> None:
    policy = ScalePolicy()
    active, now = False, 0.0
    last_relayed_at: float | None = None
    for relayed, gap in steps:
        now += gap
        action = policy.decide(relayed, active, now)
        if relayed > 0:
            last_relayed_at = now
        if action == "power_on":
            assert not active and relayed > ON_ABOVE
            active = True
        elif action == "power_off":
            # Only after 10 minutes in which every look saw nobody relayed.
            assert active and relayed == 0
            assert last_relayed_at is None or now - last_relayed_at >= OFF_AFTER_S
            active = False
        else:
            assert not (not active and relayed > ON_ABOVE)
