"""The two catalogs hold the same keys with the same {fields}, and every key the pages and scripts use exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web_client"
LANGUAGES = ("en", "uk")
FIELD = re.compile(r"\{(\w+)\}")
# {{key}} in a page; t("key") / plural("key", …) in a script (keys built at run time are listed in the script
# beside a `// i18n-keys:` comment so this test sees them).
PAGE_KEY = re.compile(r"\{\{([a-z0-9_.]+)\}\}")
SCRIPT_KEY = re.compile(r"""\b(?:t|plural)\(\s*["']([a-z0-9_.]+)["']""")
LISTED_KEYS = re.compile(r"//\s*i18n-keys:\s*(.+)")
UKRAINIAN_LETTER = re.compile("[а-яєіїґ]")
PLURAL_FORMS = (".one", ".few", ".many", ".other")


def catalog(language: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / f"{language}.json").read_text(encoding="utf-8"))


def used_keys() -> dict[str, str]:
    """Each key the interface asks for, with where it is asked."""
    used: dict[str, str] = {}
    for page in sorted((WEB / "pages").glob("*.html")):
        for key in PAGE_KEY.findall(page.read_text(encoding="utf-8")):
            used.setdefault(key, page.name)
    for script in sorted((WEB / "js").glob("*.js")):
        text = script.read_text(encoding="utf-8")
        for key in SCRIPT_KEY.findall(text):
            used.setdefault(key, script.name)
        for listed in LISTED_KEYS.findall(text):
            for key in listed.split():
                used.setdefault(key, script.name)
    return used


def test_both_catalogs_hold_the_same_keys() -> None:
    en, uk = catalog("en"), catalog("uk")
    assert sorted(set(en) - set(uk)) == [], "keys only in en.json"
    assert sorted(set(uk) - set(en)) == [], "keys only in uk.json"


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_empty_or_untranslated_filler(language: str) -> None:
    for key, text in catalog(language).items():
        assert text.strip(), f"{language}.json: {key} is empty"


def test_a_text_has_the_same_fields_in_both_languages() -> None:
    en, uk = catalog("en"), catalog("uk")
    for key, text in en.items():
        assert set(FIELD.findall(text)) == set(FIELD.findall(uk[key])), key


def test_ukrainian_texts_are_ukrainian() -> None:
    # A text copied over untranslated reads English in the Ukrainian interface; names of languages and
    # products are the exceptions, listed here.
    same_in_both = {"language.en", "language.uk"}
    en, uk = catalog("en"), catalog("uk")
    for key, text in uk.items():
        if key in same_in_both or not re.search("[A-Za-z]{3}", en[key]):
            continue
        assert UKRAINIAN_LETTER.search(text.lower()), f"uk.json: {key} has no Ukrainian letters: {text!r}"


def test_every_key_the_interface_uses_is_in_the_catalogs() -> None:
    en = catalog("en")
    missing = []
    for key, where in used_keys().items():
        if key in en or any(key + form in en for form in PLURAL_FORMS):
            continue
        missing.append(f"{key} ({where})")
    assert missing == []


def test_every_catalog_key_is_used() -> None:
    used = used_keys()
    server = " ".join(path.read_text(encoding="utf-8") for path in (WEB.parent / "signaling_gateway").glob("*.py"))
    unused = []
    for key in catalog("en"):
        base = next((key[: -len(form)] for form in PLURAL_FORMS if key.endswith(form)), key)
        # The server asks by key or by a prefix it completes (Templates.message's "{key}.title").
        prefix = key.rsplit(".", 1)[0]
        if key in used or base in used or f'"{key}"' in server or f'"{prefix}"' in server:
            continue
        unused.append(key)
    assert unused == []
