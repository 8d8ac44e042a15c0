"""Prometheus metrics of one gateway, on a registry of its own so several apps can live in one process."""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .experience import Experience
from .messages import KNOWN_TYPES, RESTART_ICE, VIDEO_PREFS

RECONNECTION_KINDS = ("resume", "media_reset", "expired")
# Every abuse limit (limit_settings.py), one label value each.
LIMITS = ("meeting_full", "sockets_per_guest", "sockets_per_address", "join_rate", "login", "ws_message_rate",
          "ws_flood", "metrics_token")
COALESCED_TYPES = (RESTART_ICE, VIDEO_PREFS)


class Metrics:
    def __init__(self, token: str | None = None) -> None:
        self._token = token
        self.registry = CollectorRegistry(auto_describe=True)
        self.websockets = Gauge("gateway_websockets_connected", "Open signaling WebSockets", registry=self.registry)
        self.meetings = Gauge(
            "gateway_meetings_active",
            "Meetings with at least one connected participant",
            registry=self.registry,
        )
        self.participants = Gauge(
            "gateway_participants",
            "Participants joined to a room through this gateway",
            registry=self.registry,
        )
        self.meetings_created = Counter(
            "gateway_meetings_created", "Meetings created by the host", registry=self.registry
        )
        self.messages = Counter(
            "gateway_signaling_messages",
            "Signaling messages by type and direction",
            ["type", "direction"],
            registry=self.registry,
        )
        self.errors = Counter("gateway_errors", "Errors by code", ["code"], registry=self.registry)
        self.reconnections = Counter(
            "gateway_reconnections",
            "Participants back after a drop, by kind: resume (same media), media_reset (media set up anew), "
            "expired (the reconnect window ran out)",
            ["kind"],
            registry=self.registry,
        )
        for kind in RECONNECTION_KINDS:
            self.reconnections.labels(kind=kind)  # exported at 0 from the start, so rate() sees the first one
        self.relayed = Gauge(
            "gateway_relayed_participants",
            "Participants whose media goes through a TURN relay (the TURN autoscaler reads this)",
            registry=self.registry,
        )
        self.media_connected = Gauge(
            "gateway_media_connected",
            "1 while the media server control connection is up",
            registry=self.registry,
        )
        self.store_connected = Gauge(
            "gateway_store_connected",
            "1 while the meeting-state store answers (store: redis, or memory: the embedded one, always 1)",
            ["store"],
            registry=self.registry,
        )
        self.bus_connected = Gauge(
            "gateway_bus_connected",
            "1 while this gateway is subscribed to the other gateways' meeting events (always 1 without Redis)",
            registry=self.registry,
        )
        self.bus_events_lost = Gauge(
            "gateway_bus_events_lost",
            "Meeting events lost since start: dropped on the way out (Redis too slow) or rejected on the way in",
            registry=self.registry,
        )
        self.limit_refusals = Counter(
            "gateway_limit_refusals",
            "Requests refused or dropped by an abuse limit (limit: meeting_full, sockets_per_guest, "
            "sockets_per_address, join_rate, login, ws_message_rate, ws_flood, metrics_token)",
            ["limit"],
            registry=self.registry,
        )
        for limit in LIMITS:
            self.limit_refusals.labels(limit=limit)
        self.coalesced = Counter(
            "gateway_renegotiations_coalesced",
            "restart_ice / video_prefs folded into a later one of the same socket (type)",
            ["type"],
            registry=self.registry,
        )
        for kind in COALESCED_TYPES:
            self.coalesced.labels(type=kind)
        self.experience = Experience(self.registry)
        # process_cpu_seconds_total, process_resident_memory_bytes, ... and python_info, on this app's registry.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def message(self, message_type: object, direction: str) -> None:
        # A client chooses the type string: bound the label set or a hostile client grows it forever.
        label = message_type if isinstance(message_type, str) and message_type in KNOWN_TYPES else "other"
        self.messages.labels(type=label, direction=direction).inc()

    def error(self, code: str) -> None:
        self.errors.labels(code=code).inc()

    async def handle(self, request: web.Request) -> web.Response:
        if self._token is not None:
            offered = request.headers.get("Authorization", "")
            if not hmac.compare_digest(offered.encode(), f"Bearer {self._token}".encode()):
                self.limit_refusals.labels(limit="metrics_token").inc()
                raise web.HTTPUnauthorized(text="metrics need Authorization: Bearer <METRICS_TOKEN>\n",
                                           headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
