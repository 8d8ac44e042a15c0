"""Serves web_client's scripts, styles and images under /static/ (its HTML page templates are not served)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

ALLOWED_SUFFIXES = frozenset({".js", ".css", ".svg", ".png", ".ico", ".webp", ".woff2", ".json"})


class StaticFiles:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/static/{path:.+}", self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = (self._root / request.match_info["path"]).resolve()
        if not path.is_relative_to(self._root) or path.suffix not in ALLOWED_SUFFIXES or not path.is_file():
            raise web.HTTPNotFound()
        # no-cache = revalidate every time: there is no build step to fingerprint file names.
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})
