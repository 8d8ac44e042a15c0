"""Renders web_client/pages/*.html with string.Template; every substituted value is HTML-escaped."""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from aiohttp import web


class Templates:
    def __init__(self, pages_dir: Path) -> None:
        self._dir = pages_dir
        self._cache: dict[str, tuple[float, Template]] = {}

    def _load(self, name: str) -> Template:
        path = self._dir / name
        mtime = path.stat().st_mtime
        cached = self._cache.get(name)
        # Re-read an edited page without a restart; the stat is cheap next to the request.
        if cached is None or cached[0] != mtime:
            cached = (mtime, Template(path.read_text(encoding="utf-8")))
            self._cache[name] = cached
        return cached[1]

    def render(self, page: str, **values: str) -> str:
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        # substitute (not safe_substitute): a placeholder we forgot to fill is a bug, not a page.
        return self._load(page).substitute(escaped)

    def response(self, page: str, *, status: int = 200, **values: str) -> web.Response:
        return web.Response(text=self.render(page, **values), status=status, content_type="text/html")

    def message(
        self,
        status: int,
        title: str,
        message: str,
        link_href: str = "/",
        link_text: str = "Home",
        testid: str = "message",
    ) -> web.Response:
        """A one-card page; `testid` names the card (e.g. `meeting-ended`, `kicked`) for tests and styling."""
        return self.response(
            "message.html",
            status=status,
            title=title,
            message=message,
            link_href=link_href,
            link_text=link_text,
            testid=testid,
        )
