"""Renders web_client/pages/*.html in a language: {{key}} is the catalog's text, $name a value; all HTML-escaped."""

from __future__ import annotations

import html
import re
from pathlib import Path
from string import Template

from aiohttp import web

from .i18n import Catalogs

_CATALOG_KEY = re.compile(r"\{\{([a-z0-9_.]+)\}\}")


class Templates:
    def __init__(self, pages_dir: Path, catalogs: Catalogs) -> None:
        self._dir = pages_dir
        self.catalogs = catalogs
        self._cache: dict[tuple[str, str], tuple[float, Template]] = {}

    def _load(self, name: str, language: str) -> Template:
        path = self._dir / name
        mtime = path.stat().st_mtime
        cached = self._cache.get((name, language))
        # Re-read an edited page without a restart; the stat is cheap next to the request.
        if cached is None or cached[0] != mtime:
            cached = (mtime, Template(self._translate(path.read_text(encoding="utf-8"), language)))
            self._cache[(name, language)] = cached
        return cached[1]

    def _translate(self, page: str, language: str) -> str:
        def text(match: re.Match[str]) -> str:
            # "$" doubled: a translation is text, never a Template placeholder.
            return html.escape(self.catalogs.text(language, match.group(1)), quote=True).replace("$", "$$")

        return _CATALOG_KEY.sub(text, page)

    def render(self, page: str, *, language: str, **values: str) -> str:
        escaped = {key: html.escape(value, quote=True) for key, value in values.items()}
        # substitute (not safe_substitute): a placeholder we forgot to fill is a bug, not a page.
        return self._load(page, language).substitute(escaped, lang=language)

    def response(self, page: str, *, language: str, status: int = 200, **values: str) -> web.Response:
        text = self.render(page, language=language, **values)
        response = web.Response(text=text, status=status, content_type="text/html")
        # The page's words depend on the language cookie and header: a cache must not hand one to the other.
        response.headers["Vary"] = "Cookie, Accept-Language"
        return response

    def message(
        self,
        request: web.Request,
        status: int,
        key: str,
        *,
        host: bool,
        text_key: str = "",
        testid: str = "message",
        code: str = "",
        **fields: object,
    ) -> web.Response:
        """A one-card page from catalog keys `{key}.title` and `{key}.text` (or `text_key`), with the next step:
        the host's meetings for the host, a meeting-code box for a guest. `testid` names the card for tests."""
        language = self.catalogs.choose(request)
        text = self.catalogs.text
        return self.response(
            "message.html",
            language=language,
            status=status,
            title=text(language, f"{key}.title", **fields),
            message=text(language, text_key or f"{key}.text", **fields),
            testid=testid,
            # Attributes, not markup: the page holds both next steps and shows the one for this person.
            home_hidden="" if host else "hidden",
            code_hidden="hidden" if host else "",
            code=code,
        )
