"""Every visible word of every page is the chosen language's catalog text: an English leftover in the Ukrainian
interface (or a hard-coded English text missing from en.json) fails.

Collected from each page of page_tour.py: the visible text nodes, the document title, and the aria-label,
title, placeholder and alt of visible elements (and the value of button inputs). A text passes when it is a
catalog value (its {fields} matched by a regex and each field's text passing in turn), user data the tour put
there (names, meeting ids, device labels), or only digits, punctuation and clock times (counts, bitrates' numbers).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Page

from .conftest import NewContext
from .page_tour import visit_every_page

CATALOGS = Path(__file__).resolve().parents[2] / "web_client" / "i18n"
FIELD = re.compile(r"\{(\w+)\}")
SEPARATOR = " · "
MAX_DEPTH = 3
# A clock time as Intl writes it ("20:17", "08:17 PM"), after another day's short weekday ("Fri 12:16 AM",
# "пт 00:16": the meeting's link expires 8 h after it starts, tomorrow once it starts after 16:00): the
# locale's words, not the catalog's. The weekdays come from the page's own Intl (WEEKDAYS_JS).
TIME = r"\d{1,2}:\d{2}(?:\s?[AP]M)?"
CLOCK = re.compile(rf"\b{TIME}")
WEEKDAYS_JS = """
() => [...Array(7).keys()].map((day) => new Intl.DateTimeFormat(document.documentElement.lang, {weekday: "short"})
  .format(new Date(Date.UTC(2026, 0, 4 + day, 12))))
"""


def clock_pattern(weekdays: list[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(day) for day in sorted(weekdays, key=len, reverse=True))
    return re.compile(rf"(?:(?<!\w)(?:{names}),?\s)?\b{TIME}")

COLLECT_JS = """
() => {
  const texts = [];
  const shown = (el) => el && el.checkVisibility({ visibilityProperty: true, opacityProperty: false });
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.data.trim() || !parent || parent.closest("script, style, template")) continue;
    // <option>s have no box of their own: they count when their <select> is shown.
    const owner = parent.closest("select") || parent;
    if (shown(owner)) texts.push(["text", node.data]);
  }
  for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder], img[alt], input")) {
    if (!shown(el)) continue;
    for (const name of ["aria-label", "title", "placeholder", "alt"]) {
      if (el.hasAttribute(name)) texts.push([name, el.getAttribute(name)]);
    }
    if (el.matches('input[type="button"], input[type="submit"], input[type="reset"]')) texts.push(["value", el.value]);
  }
  texts.push(["document.title", document.title]);
  return texts;
}
"""

# The note over a dropped participant's tile is CSS generated content (room.css reads it from an attribute), not
# a text node: the tour's call page marks the guest's tile as reconnecting for a moment and reads it.
RECONNECTING_NOTE_JS = """
() => {
  const grid = window.meetingClient.grid;
  const remote = [...grid.tiles.entries()].filter(([, tile]) => tile.dataset.reconnectingLabel !== undefined);
  if (remote.length === 0) return null;
  const [id, tile] = remote[0];
  grid.setConnection(id, false);
  const note = getComputedStyle(tile, "::after").content;
  grid.setConnection(id, true);
  return note;
}
"""


def normalize(text: str) -> str:
    return " ".join(text.split())


class Vocabulary:
    """A catalog's texts, as exact strings and as regexes whose groups are the {fields}."""

    def __init__(self, language: str, clock: re.Pattern[str] = CLOCK) -> None:
        self.clock = clock
        values = json.loads((CATALOGS / f"{language}.json").read_text(encoding="utf-8")).values()
        self.exact = {normalize(value) for value in values}
        self.patterns: list[re.Pattern[str]] = []
        for value in sorted(self.exact):
            parts = FIELD.split(value)  # literal, field name, literal, ...
            literals = parts[::2]
            if len(parts) == 1 or not any(re.search(r"[^\W\d_]", literal) for literal in literals):
                continue  # no fields, or nothing but fields: it would match anything
            regex = "".join(re.escape(part) if i % 2 == 0 else "(.+?)" for i, part in enumerate(parts))
            self.patterns.append(re.compile(regex))

    def accepts(self, text: str, user_data: list[str], depth: int = 0) -> bool:
        text = normalize(text)
        if not text or text in self.exact:
            return True
        residue = self.clock.sub(" ", text)
        for item in user_data:
            residue = residue.replace(item, " ")
        if not re.search(r"[^\W\d_]", residue):
            return True  # user data, digits and punctuation only
        if depth >= MAX_DEPTH:
            return False
        if SEPARATOR in text and all(self.accepts(part, user_data, depth + 1) for part in text.split(SEPARATOR)):
            return True
        for pattern in self.patterns:
            match = pattern.fullmatch(text)
            if match and all(self.accepts(group, user_data, depth + 1) for group in match.groups()):
                return True
        return False


def test_the_vocabulary_accepts_filled_fields_and_refuses_english_in_ukrainian() -> None:
    uk = Vocabulary("uk")
    assert uk.accepts("Зустрічі", [])
    assert uk.accepts("Від’єднано від зустрічі: у зустрічі вже немає вільних місць.", [])
    assert uk.accepts("З’єднання: погане (оцінка MOS 2.2)", [])
    assert uk.accepts("Поділитися зустріччю abc-defg", ["abc-defg"])
    assert not uk.accepts("Від’єднано від зустрічі: the meeting is full.", [])
    assert not uk.accepts("Share", [])
    assert Vocabulary("en").accepts("Share", [])


def test_a_time_on_another_day_is_the_locale_s_and_a_word_before_it_is_not() -> None:
    en = Vocabulary("en", clock_pattern(["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]))
    assert en.accepts("Link works until Fri 12:16 AM (7 h 59 min left).", [])
    assert en.accepts("Started 04:00 PM · 0 people in the call · link works until Fri 12:00 AM", [])
    assert not en.accepts("Link works until Friday 12:16 AM (7 h 59 min left).", [])
    assert not Vocabulary("en").accepts("Link works until Fri 12:16 AM (7 h 59 min left).", [])
    uk = Vocabulary("uk", clock_pattern(["нд", "пн", "вт", "ср", "чт", "пт"]))
    assert uk.accepts("Посилання діє до пт 00:16 (залишилося 7 год 59 хв).", [])
    assert not uk.accepts("Посилання діє до Fri 00:16 (залишилося 7 год 59 хв).", [])


@pytest.mark.browser
@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.parametrize(("locale", "language"), [("uk-UA", "uk"), ("en-US", "en")])
async def test_every_visible_text_is_in_the_catalog(new_context: NewContext, locale: str, language: str) -> None:
    vocabulary = Vocabulary(language)
    leftovers: list[str] = []
    visited: list[str] = []

    async def check(name: str, page: Page, user_data: set[str]) -> None:
        visited.append(name)
        assert await page.get_attribute("html", "lang") == language, name
        vocabulary.clock = clock_pattern(await page.evaluate(WEEKDAYS_JS))
        ordered = sorted(user_data, key=len, reverse=True)  # "Olena" before its initial "O"
        for where, text in await page.evaluate(COLLECT_JS):
            if not vocabulary.accepts(text, ordered):
                leftovers.append(f"{name}: {where} {normalize(text)!r}")
        if name == "call":
            wanted = json.loads((CATALOGS / f"{language}.json").read_text(encoding="utf-8"))["room.status.reconnecting"]
            note = await page.evaluate(RECONNECTING_NOTE_JS)
            assert note == f'"{wanted}"', f"the reconnecting tile's note: {note!r}, not {wanted!r}"

    await visit_every_page(new_context, locale, check)
    assert visited == ["login", "home", "join", "call", "message"]
    assert leftovers == [], f"not in {language}.json:\n" + "\n".join(sorted(set(leftovers)))
