"""The styled 404: an address no route serves gets a page in the person's language with their next step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Machine-facing paths keep their plain answers: a script, a client or a scraper wants a status, not a page.
_PLAIN_PREFIXES = ("/static/", "/api/", "/ws", "/metrics")


def not_found_middleware(page: Callable[[web.Request], web.Response]) -> Middleware:
    """Wraps the router's "no such route" (and a handler's bare 404) into `page` for GET and HEAD of a page."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if request.method not in ("GET", "HEAD") or request.path.startswith(_PLAIN_PREFIXES):
                raise
            return page(request)

    return middleware
