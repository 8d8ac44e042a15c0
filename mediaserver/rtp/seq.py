"""Wrap-around arithmetic for 16-bit RTP sequence numbers and 32-bit RTP timestamps."""

__all__ = [
    "SeqUnwrapper",
    "TsUnwrapper",
    "seq_add",
    "seq_diff",
    "seq_newer",
    "ts_add",
    "ts_diff",
    "ts_newer",
]

_SEQ_MASK = 0xFFFF
_SEQ_HALF = 0x8000
_TS_MASK = 0xFFFFFFFF
_TS_HALF = 0x80000000


def seq_add(a: int, n: int) -> int:
    """Return ``a + n`` modulo 2**16 (``n`` may be negative)."""
    return (a + n) & _SEQ_MASK


def seq_diff(a: int, b: int) -> int:
    """Return the signed distance ``a - b`` in [-32768, 32767]."""
    return ((a - b + _SEQ_HALF) & _SEQ_MASK) - _SEQ_HALF


def seq_newer(a: int, b: int) -> bool:
    """True when ``a`` comes after ``b`` in sequence order.

    At a distance of exactly half the space the direction is ambiguous; breaking the tie on the
    raw value keeps the relation antisymmetric (exactly one of newer(a, b), newer(b, a) for a != b).
    """
    d = (a - b) & _SEQ_MASK
    if d == _SEQ_HALF:
        return (a & _SEQ_MASK) > (b & _SEQ_MASK)
    return 0 < d < _SEQ_HALF


def ts_add(a: int, n: int) -> int:
    """Return ``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & _TS_MASK


def ts_diff(a: int, b: int) -> int:
    """Return the signed distance ``a - b`` in [-2**31, 2**31 - 1]."""
    return ((a - b + _TS_HALF) & _TS_MASK) - _TS_HALF


def ts_newer(a: int, b: int) -> bool:
    """True when timestamp ``a`` comes after ``b`` (same tie-break rule as :func:`seq_newer`)."""
    d = (a - b) & _TS_MASK
    if d == _TS_HALF:
        return (a & _TS_MASK) > (b & _TS_MASK)
    return 0 < d < _TS_HALF


class SeqUnwrapper:
    """Extends wrapping 16-bit sequence numbers to unbounded integers.

    Each value is placed at the shortest signed distance from the highest value seen so far.
    Anchoring on the highest (not the last) value means one very late packet cannot drag the
    reference backwards and mis-place the packets that follow it. The first value is returned
    unchanged; a packet reordered to before a first value near 0 unwraps to a small negative
    number, which keeps ordering correct at the cost of the result not being a valid ROC base.
    """

    __slots__ = ("_highest",)
    _MASK = _SEQ_MASK
    _HALF = _SEQ_HALF

    def __init__(self) -> None:
        self._highest: int | None = None

    @property
    def highest(self) -> int | None:
        """The highest unwrapped value returned so far, or None before the first call."""
        return self._highest

    def unwrap(self, seq: int) -> int:
        """Return the unwrapped value of ``seq`` and advance the reference if it is newer."""
        highest = self._highest
        if highest is None:
            self._highest = seq & self._MASK
            return self._highest
        mask = self._MASK
        half = self._HALF
        value = highest + (((seq - highest + half) & mask) - half)
        if value > highest:
            self._highest = value
        return value

    def reset(self) -> None:
        """Forget the reference so the next value is taken as-is (e.g. after an SSRC change)."""
        self._highest = None


class TsUnwrapper(SeqUnwrapper):
    """Extends wrapping 32-bit RTP timestamps to unbounded integers (see :class:`SeqUnwrapper`)."""

    __slots__ = ()
    _MASK = _TS_MASK
    _HALF = _TS_HALF
