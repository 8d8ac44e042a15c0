"""Tests for 16-bit sequence and 32-bit timestamp wrap-around arithmetic."""

from hypothesis import given, settings
from hypothesis import strategies as st

from mediaserver.rtp.seq import (
    SeqUnwrapper,
    TsUnwrapper,
    seq_add,
    seq_diff,
    seq_newer,
    ts_add,
    ts_diff,
    ts_newer,
)

seqs = st.integers(0, 0xFFFF)
stamps = st.integers(0, 0xFFFFFFFF)


def test_seq_add_wraps() -> None:
    assert seq_add(65535, 1) == 0
    assert seq_add(0, -1) == 65535
    assert seq_add(65530, 10) == 4


def test_seq_diff_known_values() -> None:
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(10, 5) == 5
    assert seq_diff(5, 10) == -5
    assert seq_diff(32768, 0) == -32768
    assert seq_diff(32767, 0) == 32767


def test_seq_newer_across_wrap_and_tie() -> None:
    assert seq_newer(0, 65535)
    assert not seq_newer(65535, 0)
    assert not seq_newer(7, 7)
    # Half-way ambiguity is broken deterministically, one direction only.
    assert seq_newer(32768, 0) != seq_newer(0, 32768)


def test_ts_arithmetic_known_values() -> None:
    assert ts_add(0xFFFFFFFF, 1) == 0
    assert ts_diff(0, 0xFFFFFFFF) == 1
    assert ts_diff(0xFFFFFF00, 0x100) == -0x200
    assert ts_newer(5, 0xFFFFFFF0)


@given(seqs, st.integers(-32767, 32767))
def test_seq_diff_inverts_add(a: int, n: int) -> None:
    assert seq_diff(seq_add(a, n), a) == n


@given(seqs, seqs)
def test_seq_newer_antisymmetric(a: int, b: int) -> None:
    if a == b:
        assert not seq_newer(a, b)
    else:
        assert seq_newer(a, b) != seq_newer(b, a)
    assert -32768 <= seq_diff(a, b) <= 32767


@given(stamps, st.integers(-(2**31) + 1, 2**31 - 1))
def test_ts_diff_inverts_add(a: int, n: int) -> None:
    assert ts_diff(ts_add(a, n), a) == n
    assert ts_newer(ts_add(a, n), a) == (n > 0)


@st.composite
def reordered_walk(draw: st.DrawFn) -> list[int]:
    """Unbounded true sequence numbers: forward steps with gaps, then small local swaps."""
    start = draw(st.integers(200, 0xFFFF + 200))
    steps = draw(st.lists(st.integers(1, 3000), min_size=1, max_size=300))
    values = [start]
    for s in steps:
        values.append(values[-1] + s)
    swaps = draw(st.lists(st.integers(0, len(values) - 2), max_size=30))
    for i in swaps:
        if abs(values[i] - values[i + 1]) < 100:
            values[i], values[i + 1] = values[i + 1], values[i]
    return values


@settings(max_examples=150, deadline=None)
@given(reordered_walk())
def test_unwrapper_recovers_true_values(values: list[int]) -> None:
    # Anchor the true values so the first one is its own 16-bit value, as the unwrapper assumes.
    base = values[0] - (values[0] & 0xFFFF)
    u = SeqUnwrapper()
    out = [u.unwrap(v & 0xFFFF) for v in values]
    assert out == [v - base for v in values]
    assert u.highest == max(out)


def test_unwrapper_wrap_and_reorder_back() -> None:
    u = SeqUnwrapper()
    assert [u.unwrap(s) for s in (65533, 65534, 0, 65535, 1, 2)] == [65533, 65534, 65536, 65535, 65537, 65538]
    # A late packet does not move the reference: the next in-order packet continues upward.
    assert u.unwrap(65530) == 65530
    assert u.unwrap(3) == 65539
    u.reset()
    assert u.unwrap(3) == 3


def test_ts_unwrapper() -> None:
    u = TsUnwrapper()
    assert u.unwrap(0xFFFFFF00) == 0xFFFFFF00
    assert u.unwrap(0x100) == 0x100000100
    assert u.unwrap(0xFFFFFFF0) == 0xFFFFFFF0
