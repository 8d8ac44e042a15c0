"""Guest display names: trimmed, 1-40 characters, no control or bidi-override characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling_gateway.names import MAX_NAME_CHARS, InvalidName, clean_guest_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ann", "Ann"),
        ("  Ann  ", "Ann"),
        ("Ann \t\n Lee", "Ann Lee"),
        ("Олег", "Олег"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("👩\u200d💻 Dev", "👩\u200d💻 Dev"),
        ("x" * 40, "x" * 40),
        ("  " + "x" * 40 + "  ", "x" * 40),
    ],
)
def test_accepted(raw: str, expected: str) -> None:
    assert clean_guest_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "\n\t", "x" * 41, "y" * 500, "a\x00b", "evil\u202etxt.exe", "\x07"])
def test_refused(raw: str) -> None:
    with pytest.raises(InvalidName):
        clean_guest_name(raw)


@given(st.text(max_size=80))
def test_any_accepted_name_is_trimmed_and_short(raw: str) -> None:
    try:
        name = clean_guest_name(raw)
    except InvalidName:
        return
    assert 1 <= len(name) <= MAX_NAME_CHARS
    assert name == name.strip()
    assert "  " not in name
