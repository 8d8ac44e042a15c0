"""Which language a request gets, and a page rendered in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling_gateway.i18n import Catalogs
from signaling_gateway.templates import Templates

WEB = Path(__file__).resolve().parents[2] / "web_client"


@pytest.fixture(scope="module")
def catalogs() -> Catalogs:
    return Catalogs(WEB / "i18n")


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("uk-UA,uk;q=0.9,en-US;q=0.8,en;q=0.7", "uk"),
        ("en-US,en;q=0.9,uk;q=0.8", "en"),
        ("de-DE,de;q=0.9,uk;q=0.5", "uk"),
        ("de-DE,fr;q=0.9", "en"),
        ("ru-RU,ru;q=0.9", "uk"),
        ("en;q=0.1,uk;q=0.9", "uk"),
        ("", "en"),
        ("*", "en"),
        ("uk;q=zero,en", "en"),
        ("x" * 10_000, "en"),
        (";;,,;q=,", "en"),
    ],
)
def test_accept_language_picks_the_catalog(catalogs: Catalogs, header: str, language: str) -> None:
    assert catalogs.from_accept_language(header) == language


def test_fields_are_filled_and_unknown_keys_show_the_key(catalogs: Catalogs) -> None:
    assert "7" in catalogs.text("uk", "login.error.throttled", seconds=7)
    assert catalogs.text("uk", "no.such.key") == "no.such.key"
    assert catalogs.text("xx", "login.submit") == catalogs.text("en", "login.submit")


def test_a_page_renders_in_the_language_with_values_escaped(catalogs: Catalogs) -> None:
    templates = Templates(WEB / "pages", catalogs)
    page = templates.render("login.html", language="uk", error="<b>$x</b>", username="Олег")
    assert '<html lang="uk">' in page
    assert catalogs.text("uk", "login.submit") in page
    assert "&lt;b&gt;$x&lt;/b&gt;" in page and "{{" not in page
