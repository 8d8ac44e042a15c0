"""Validation of the display names guests type in."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 40
_SPACES = re.compile(r"\s+")
# Zero-width (non-)joiners build emoji and Indic names; other format characters (bidi overrides) only spoof.
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
# Letters, digits, punctuation and symbols draw something; marks, separators and format characters do not.
_VISIBLE_CATEGORY_GROUPS = frozenset("LNPS")
# Letters and symbols by category that are drawn blank: the Hangul fillers (choseong, jungseong, compatibility,
# half-width) and the blank Braille pattern.
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
# A guest must not look like the host: the client draws the real badge from is_host, never from the name.
_HOST_WORD = re.compile(r"(?<![^\W_])host(?![^\W_])")


class InvalidName(ValueError):
    """The name cannot be used: the English message (str), and the catalog key and fields the join page shows
    in the guest's language."""

    def __init__(self, message: str, key: str, **fields: object) -> None:
        super().__init__(message)
        self.key = key
        self.fields = fields


def is_visible(ch: str) -> bool:
    return unicodedata.category(ch)[0] in _VISIBLE_CATEGORY_GROUPS and ch not in BLANK_CHARACTERS


def claims_host(name: str) -> bool:
    """Whether "host" is a word of the name in any case or width ("(Host)", full-width letters, a zero-width
    joiner inside), not part of another word ("Ghost")."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    # Invisible characters between the letters would hide the word from the pattern, not from the eye.
    folded = "".join(ch for ch in folded if is_visible(ch) or ch.isspace())
    return _HOST_WORD.search(folded) is not None


def clean_guest_name(raw: str) -> str:
    """The name as shown: trimmed, inner whitespace collapsed, 1-40 characters, no control characters, at least
    one visible character, and no claim to be the host."""
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if not name:
        raise InvalidName("Please enter your name.", "name.error.empty")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidName(f"Your name can be at most {MAX_NAME_CHARS} characters long.", "name.error.too_long",
                          max=MAX_NAME_CHARS)
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT for ch in name):
        raise InvalidName("Your name contains characters that cannot be displayed.", "name.error.hidden_characters")
    if not any(is_visible(ch) for ch in name):
        raise InvalidName("Please enter a name people can see.", "name.error.invisible")
    if claims_host(name):
        raise InvalidName("Only the host can be called host: please choose another name.", "name.error.host")
    return name
