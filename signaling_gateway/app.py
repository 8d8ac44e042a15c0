"""Builds the aiohttp application from its parts; the media client and the store are passed in."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web

from .api import Api
from .auth import Authenticator, HostCredentials
from .bus import Bus, LocalBus, RedisBus
from .config import Settings
from .host_controls import HostControls
from .host_sessions import HostSessions
from .http_limits import JoinLimiter
from .hub import Hub
from .i18n import Catalogs
from .login_throttle import LoginThrottle
from .media_api import MediaApi
from .meetings import Meetings
from .metrics import Metrics
from .not_found import not_found_middleware
from .pages import Pages
from .relay import MeetingRelay
from .signaling import Signaling
from .signing import Signer
from .static import StaticFiles
from .store import MemoryStore, RedisStore, Store
from .store_health import watch_store
from .templates import Templates
from .who_is_here import WhoIsHere
from .ws_limits import WsLimits

log = structlog.get_logger(__name__)

SETTINGS_KEY = web.AppKey("settings", Settings)
STORE_KEY = web.AppKey("store", Store)
MEDIA_KEY = web.AppKey("media", MediaApi)
HUB_KEY = web.AppKey("hub", Hub)
METRICS_KEY = web.AppKey("metrics", Metrics)
AUTH_KEY = web.AppKey("auth", Authenticator)
MEETINGS_KEY = web.AppKey("meetings", Meetings)
CONTROLS_KEY = web.AppKey("host_controls", HostControls)
SIGNALING_KEY = web.AppKey("signaling", Signaling)
BUS_KEY = web.AppKey("bus", Bus)

STORE_SWEEP_INTERVAL = 60.0

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ]
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # Redirects are raised; they need the headers too (Set-Cookie responses must not be cached).
        _harden(request, exc)
        raise
    _harden(request, response)
    return response


def _harden(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket: headers already went out
        return
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # Meeting ids in URLs are capabilities: never leak them in Referer headers.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
    if not request.path.startswith("/static/"):
        headers.setdefault("Cache-Control", "no-store")


def store_for(settings: Settings) -> Store:
    """Redis when REDIS_URL is set (meetings outlive a gateway restart), else the embedded in-memory store."""
    return RedisStore.from_url(settings.redis_url) if settings.redis_url else MemoryStore()


def bus_for(settings: Settings) -> Bus:
    """With Redis, gateways share it and hear each other's meeting events; alone, there is nobody to tell."""
    return RedisBus(settings.redis_url) if settings.redis_url else LocalBus()


def create_app(
    settings: Settings,
    *,
    media: MediaApi,
    store: Store | None = None,
    credentials: HostCredentials | None = None,
    ping_interval: float = 30.0,
    store_refresh_interval: float | None = None,
    clock: Callable[[], float] | None = None,
) -> web.Application:
    """The whole gateway; `media` and `store` are started with the app and closed with it."""
    store = store if store is not None else store_for(settings)
    credentials = credentials or HostCredentials(settings.host_username, settings.host_password)
    # `clock`: wall time for token expiry (tests run 8-hour calls on an accelerated one).
    signer = Signer(settings.secret_key, clock) if clock is not None else Signer(settings.secret_key)
    auth = Authenticator(signer, settings.host_username, settings.secure_cookies)
    metrics = Metrics(settings.metrics_token)
    hub = Hub()
    bus = bus_for(settings)
    metrics.bus_connected.set_function(lambda: 1.0 if bus.connected else 0.0)
    metrics.bus_events_lost.set_function(lambda: float(bus.dropped + bus.rejected))
    relay = MeetingRelay(hub, bus)
    meetings = Meetings(store, media, settings.video_codecs)
    templates = Templates(settings.web_root / "pages", Catalogs(settings.web_root / "i18n"))
    controls = HostControls(store=store, media=media, hub=hub, relay=relay, meetings=meetings)
    limits, refusals = settings.limits, metrics.limit_refusals
    sessions = HostSessions(auth, store)
    signaling = Signaling(
        auth=auth,
        store=store,
        media=media,
        meetings=meetings,
        hub=hub,
        relay=relay,
        metrics=metrics,
        controls=controls,
        public_url=settings.public_url,
        ping_interval=ping_interval,
        store_refresh_interval=store_refresh_interval,
        reconnect_window=settings.reconnect_window,
        ice_servers=settings.turn.ice_servers,
        limits=WsLimits(limits, store, refusals, metrics.coalesced),
    )

    app = web.Application(middlewares=[security_headers, sessions.middleware], client_max_size=64 * 1024)
    app[SETTINGS_KEY] = settings
    app[STORE_KEY] = store
    app[MEDIA_KEY] = media
    app[HUB_KEY] = hub
    app[METRICS_KEY] = metrics
    app[AUTH_KEY] = auth
    app[MEETINGS_KEY] = meetings
    app[CONTROLS_KEY] = controls
    app[SIGNALING_KEY] = signaling
    app[BUS_KEY] = bus

    pages = Pages(templates=templates, auth=auth, credentials=credentials, meetings=meetings, controls=controls,
                  throttle=LoginThrottle(limits, refusals),
                  joins=JoinLimiter(limits.join_rate, refusals, trust_forwarded_for=limits.trust_forwarded_for),
                  sessions=sessions, trust_forwarded_for=limits.trust_forwarded_for)
    app.add_routes(pages.routes())
    # Innermost, after the session check: the 404 page knows whether a host is asking.
    app.middlewares.append(not_found_middleware(pages.not_found))
    app.add_routes(Api(settings=settings, auth=auth, meetings=meetings, media=media, hub=hub, metrics=metrics).routes())
    app.add_routes(StaticFiles(settings.web_root).routes())
    app.add_routes(WhoIsHere(meetings=meetings, store=store, refusals=refusals,
                             trust_forwarded_for=limits.trust_forwarded_for).routes())
    app.add_routes([web.get("/ws", signaling.handle), web.get("/metrics", metrics.handle)])

    app.cleanup_ctx.append(_media_lifecycle)
    app.cleanup_ctx.append(_store_lifecycle)
    app.cleanup_ctx.append(_bus_lifecycle)
    app.on_shutdown.append(_close_websockets)
    return app


async def _media_lifecycle(app: web.Application) -> AsyncIterator[None]:
    media = app[MEDIA_KEY]
    await media.start()
    yield
    await media.close()


async def _store_lifecycle(app: web.Application) -> AsyncIterator[None]:
    store = app[STORE_KEY]
    sweeper = asyncio.create_task(_sweep(store), name="store-sweep") if isinstance(store, MemoryStore) else None
    health = asyncio.create_task(watch_store(store, app[METRICS_KEY].store_connected), name="store-health")
    yield
    for task in (sweeper, health):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    await store.close()


async def _bus_lifecycle(app: web.Application) -> AsyncIterator[None]:
    bus = app[BUS_KEY]
    await bus.start()
    yield
    await bus.close()


async def _sweep(store: MemoryStore) -> None:
    while True:
        await asyncio.sleep(STORE_SWEEP_INTERVAL)
        removed = store.sweep()
        if removed:
            log.debug("store_swept", removed=removed)


async def _close_websockets(app: web.Application) -> None:
    # Not a leave: with Redis a restarted gateway takes every participant back from its reconnect token.
    app[SIGNALING_KEY].shutting_down = True
    for session in app[HUB_KEY].all_sessions():
        session.close(1001, "server shutting down")
    await app[CONTROLS_KEY].close()
