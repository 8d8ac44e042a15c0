"""Signed cookies: tampering, purpose confusion and expiry are all refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signaling_gateway.signing import Signer


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_round_trip() -> None:
    signer = Signer(b"s" * 32)
    token = signer.sign("guest", {"m": "abcd", "n": "Ann"}, 60)
    claims = signer.verify("guest", token)
    assert claims is not None and claims["m"] == "abcd" and claims["n"] == "Ann"


def test_another_purpose_or_key_is_refused() -> None:
    signer = Signer(b"s" * 32)
    token = signer.sign("guest", {"m": "abcd"}, 60)
    assert signer.verify("host", token) is None
    assert Signer(b"t" * 32).verify("guest", token) is None


def test_expiry() -> None:
    clock = Clock()
    signer = Signer(b"s" * 32, clock=clock)
    token = signer.sign("host", {}, 60)
    clock.now += 59
    assert signer.verify("host", token) is not None
    clock.now += 2
    assert signer.verify("host", token) is None


def test_a_short_key_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        Signer(b"short")


@given(st.text(max_size=300))
def test_garbage_never_verifies_and_never_raises(garbage: str) -> None:
    assert Signer(b"s" * 32).verify("host", garbage) is None


@given(st.integers(min_value=0, max_value=200))
def test_any_single_character_change_is_detected(position: int) -> None:
    signer = Signer(b"s" * 32)
    token = signer.sign("guest", {"m": "abcd-efgh-jkmn", "n": "Ann"}, 60)
    position %= len(token)
    replacement = "A" if token[position] != "A" else "B"
    tampered = token[:position] + replacement + token[position + 1 :]
    assert signer.verify("guest", tampered) is None
