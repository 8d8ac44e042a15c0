"""Guest display names: trimmed, 1-40 characters, no control or bidi-override characters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling_gateway.names import BLANK_CHARACTERS, MAX_NAME_CHARS, InvalidName, clean_guest_name, is_visible


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


# --- visible characters and the host badge (P10) ----------------------------------------------------------

INVISIBLE = ["\u200d", "\u200c", "\u3164", "\u115f", "\u1160", "\uffa0", "\u2800", "\u0301", "\u0301\u0302",
             "\u3164 \u3164", "\u2800\u200d\u2800", " \u0300 "]
HOST_CLAIMS = ["oleh (host)", "Oleh (Host)", "HOST", "host", "[host] Ann", "Ann - host",
               "\uff08\uff48\uff4f\uff53\uff54\uff09", "Ann (\uff28\uff2f\uff33\uff34)", "h\u200dost", "Ann_host"]


@pytest.mark.parametrize("raw", INVISIBLE)
def test_a_name_needs_a_visible_character(raw: str) -> None:
    with pytest.raises(InvalidName, match="see"):
        clean_guest_name(raw)


@pytest.mark.parametrize("raw", HOST_CLAIMS)
def test_a_guest_cannot_claim_the_host_badge(raw: str) -> None:
    with pytest.raises(InvalidName, match="host"):
        clean_guest_name(raw)


@pytest.mark.parametrize("raw", ["Ghost", "Hostetler", "Kostas", "host1", "Олег", "e\u0301mile", "李雷"])
def test_names_that_only_contain_the_letters_are_fine(raw: str) -> None:
    assert clean_guest_name(raw)


_BLANKS = st.sampled_from([*sorted(BLANK_CHARACTERS), "\u200d", "\u200c", " ", "\u00a0", "\u3000"])
_MARKS = st.characters(categories=["Mn", "Me"])


@given(st.lists(st.one_of(_BLANKS, _MARKS), min_size=1, max_size=40))
def test_names_of_only_blanks_marks_and_joiners_are_refused(parts: list[str]) -> None:
    with pytest.raises(InvalidName):
        clean_guest_name("".join(parts))


def _widths(word: str) -> st.SearchStrategy[str]:
    # Each letter in either case, ASCII or full width (what NFKC folds back).
    return st.tuples(*[st.sampled_from([ch, ch.upper(), chr(ord(ch) + 0xFEE0), chr(ord(ch.upper()) + 0xFEE0)])
                       for ch in word]).map("".join)


_BRACKETS = st.sampled_from(["()", "[]", "  ", "--", "\uff08\uff09"])


@given(st.text(alphabet="abc xyz", max_size=10), _widths("host"), _BRACKETS)
def test_host_in_any_case_width_or_bracket_is_refused(prefix: str, host: str, brackets: str) -> None:
    with pytest.raises(InvalidName):
        clean_guest_name(f"{prefix} {brackets[0]}{host}{brackets[1]}")


@given(st.text(alphabet=st.characters(categories=["Lu", "Ll", "Lo", "Nd"]), min_size=1, max_size=20))
def test_a_name_with_letters_or_digits_is_accepted_unless_it_says_host(letters: str) -> None:
    try:
        name = clean_guest_name(letters)
    except InvalidName as exc:
        # Only the host word, or a name made of blank letters (the Hangul fillers are category Lo).
        assert "host" in str(exc) or all(ch in BLANK_CHARACTERS for ch in letters)
        return
    assert any(is_visible(ch) for ch in name)
