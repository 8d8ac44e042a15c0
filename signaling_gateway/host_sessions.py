"""Logout that sticks: a revoked host session's cookie, or any copy of it, signs nobody in again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import hdrs, web
from multidict import CIMultiDict

from .auth import HOST_COOKIE, HOST_SESSION_TTL, Authenticator
from .store import Store, StoreUnavailable

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostSessions:
    def __init__(self, auth: Authenticator, store: Store) -> None:
        self._auth = auth
        self._store = store

    async def revoke(self, request: web.Request) -> None:
        session_id = self._auth.host_session_id(request)
        if session_id is None:
            return
        # Renewal keeps the session id and restarts the cookie's lifetime, so a copy renewed just before the
        # logout is valid for at most one full lifetime from now: the record lives that long.
        await self._store.revoke_session(session_id, HOST_SESSION_TTL)
        log.info("host_session_revoked")

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every handler sees a revoked host cookie as no cookie at all (pages, API, /ws alike)."""
        if request.path.startswith("/static/"):
            return await handler(request)
        session_id = self._auth.host_session_id(request)
        if session_id is not None:
            try:
                revoked = await self._store.session_revoked(session_id)
            except StoreUnavailable as exc:
                # Fail open: a Redis blip must not throw the host out of a running call; it only delays
                # the refusal of a copied cookie until Redis answers again.
                log.warning("session_revocation_unchecked", error=str(exc))
                revoked = False
            if revoked:
                request = request.clone(headers=_without_host_cookie(request))
        return await handler(request)


def _without_host_cookie(request: web.Request) -> CIMultiDict[str]:
    headers = CIMultiDict(request.headers)
    headers.popall(hdrs.COOKIE, None)
    kept = "; ".join(f"{name}={value}" for name, value in request.cookies.items() if name != HOST_COOKIE)
    if kept:
        headers[hdrs.COOKIE] = kept
    return headers
