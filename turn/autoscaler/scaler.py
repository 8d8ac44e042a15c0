"""One autoscaler: look (relayed count, droplet state), decide (policy.py), act (do_api.py), count (metrics)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from .do_api import ApiError, DropletApi
from .policy import ScalePolicy

log = structlog.get_logger("turn.autoscaler")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.relayed = Gauge("turn_autoscaler_relayed_participants", "Participants needing a relay, all gateways",
                             registry=self.registry)
        self.active = Gauge("turn_autoscaler_droplet_active", "1 while the TURN droplet is powered on",
                            registry=self.registry)
        self.actions = Counter("turn_autoscaler_actions", "Power actions by type and result", ["type", "result"],
                               registry=self.registry)
        self.failures = Counter("turn_autoscaler_failed_looks", "Rounds without a decision (a gateway or the API "
                                "did not answer)", registry=self.registry)


class Autoscaler:
    def __init__(self, api: DropletApi, relayed: Callable[[], Awaitable[int]], *, dry_run: bool = False,
                 policy: ScalePolicy | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.api = api
        self.relayed = relayed
        self.dry_run = dry_run
        self.policy = policy or ScalePolicy()
        self.clock = clock
        self.metrics = Metrics()

    async def step(self) -> str | None:
        """One round; returns the action taken (or, in a dry run, the one that would have been)."""
        try:
            relayed = await self.relayed()
            active = await self.api.is_active()
        except (ApiError, OSError, ValueError) as exc:
            # No decision on stale figures: a gateway or the API that does not answer changes nothing.
            self.metrics.failures.inc()
            log.warning("autoscaler_look_failed", error=str(exc)[:300])
            return None
        self.metrics.relayed.set(relayed)
        self.metrics.active.set(1 if active else 0)
        action = self.policy.decide(relayed, active, self.clock())
        if action is None:
            return None
        log.info("autoscaler_decision", action=action, relayed=relayed, dry_run=self.dry_run)
        if self.dry_run:
            self.metrics.actions.labels(type=action, result="dry_run").inc()
            return action
        try:
            result = await self.api.power(action)
        except ApiError as exc:
            self.metrics.actions.labels(type=action, result="failed").inc()
            log.error("autoscaler_action_failed", action=action, error=str(exc)[:300])
            return None
        self.metrics.actions.labels(type=action, result=result).inc()
        return action
