"""The interface's languages: the catalogs in web_client/i18n/*.json and which one a request gets."""

from __future__ import annotations

import json
import string
from pathlib import Path

from aiohttp import web
from babel import Locale, UnknownLocaleError
from babel.core import negotiate_locale

# The cookie the page's language switch sets; it wins over the browser's Accept-Language.
LANGUAGE_COOKIE = "lang"
DEFAULT_LANGUAGE = "en"
# Browsers set to a language we do not have fall back to English, except these: people in Ukraine whose browser
# speaks Russian or Belarusian read Ukrainian more easily than English.
_FALLBACKS = {"ru": "uk", "be": "uk"}
# The Accept-Language header is short; a longer one is not a browser's and is not parsed.
_MAX_ACCEPT_LANGUAGE = 512
# Where a request keeps the language chosen for it.
_CHOSEN_KEY = web.RequestKey("i18n.language", str)


class Catalogs:
    """One flat key → text catalog per language; a text may hold {name} fields filled at render time."""

    def __init__(self, directory: Path) -> None:
        self._texts: dict[str, dict[str, str]] = {
            path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))
        }
        if DEFAULT_LANGUAGE not in self._texts:
            raise ValueError(f"no {DEFAULT_LANGUAGE}.json catalog in {directory}")

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._texts)

    def text(self, language: str, key: str, **fields: object) -> str:
        # A key missing from a catalog is a bug the coverage test catches; at run time show the key, not a 500.
        template = self._texts.get(language, self._texts[DEFAULT_LANGUAGE]).get(key, key)
        return string.Formatter().vformat(template, (), fields) if fields else template

    def choose(self, request: web.Request) -> str:
        """The language for this request: the remembered switch, else the browser's preference, else English.

        Negotiated once per request: a page and its texts ask separately and must agree."""
        if _CHOSEN_KEY in request:
            return request[_CHOSEN_KEY]
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        if chosen not in self._texts:
            chosen = self.from_accept_language(request.headers.get("Accept-Language", ""))
        request[_CHOSEN_KEY] = chosen
        return chosen

    def from_accept_language(self, header: str) -> str:
        preferred = _preferred_languages(header[:_MAX_ACCEPT_LANGUAGE])
        wanted = [_FALLBACKS.get(code, code) for code in preferred]
        return negotiate_locale(wanted, list(self._texts), sep="-") or DEFAULT_LANGUAGE


def _preferred_languages(header: str) -> list[str]:
    """Accept-Language's languages, best first (RFC 9110 §12.5.4), reduced to their language codes."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        code = _language_code(tag.strip())
        if code and quality > 0:
            weighted.append((-quality, position, code))
    return [code for _, _, code in sorted(weighted)]


def _language_code(tag: str) -> str:
    if not tag or tag == "*":
        return ""
    try:
        return Locale.parse(tag, sep="-").language
    except (ValueError, UnknownLocaleError):
        return ""
