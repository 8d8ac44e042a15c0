"""Origin checks for cookie-authenticated requests that change state or open a WebSocket."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web


def same_origin(request: web.Request, public_url: str | None) -> bool:
    """True when the browser says the request comes from our own pages (or says nothing, as non-browsers do).

    SameSite=Lax already keeps our cookies off cross-site POSTs; this also covers WebSocket handshakes,
    which browsers do not subject to CORS.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    netloc = urlsplit(origin).netloc.lower()
    allowed = {request.host.lower()}
    if public_url:
        allowed.add(urlsplit(public_url).netloc.lower())
    return netloc in allowed
