"""Validation of the display names guests type in."""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 40
_SPACES = re.compile(r"\s+")
# Zero-width (non-)joiners build emoji and Indic names; other format characters (bidi overrides) only spoof.
_ALLOWED_FORMAT = frozenset({"\u200c", "\u200d"})
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


class InvalidName(ValueError):
    """The name cannot be used; the message is shown to the guest as is."""


def clean_guest_name(raw: str) -> str:
    """The name as shown: trimmed, inner whitespace collapsed, 1-40 characters, no control characters."""
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if not name:
        raise InvalidName("Please enter your name.")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidName(f"Your name can be at most {MAX_NAME_CHARS} characters long.")
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _ALLOWED_FORMAT for ch in name):
        raise InvalidName("Your name contains characters that cannot be displayed.")
    return name
