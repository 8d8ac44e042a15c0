"""Prometheus text exposition by hand: families of samples, labels escaped, histograms with cumulative buckets."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

Labels = Mapping[str, str]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels | None) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels | None, float]]) -> list[str]:
    """A counter or gauge: HELP, TYPE, then one line per label set."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in samples]
    return lines


class Buckets(Protocol):
    """A histogram's state: ascending upper bounds (+Inf implied), a count per bucket (one more than bounds)."""

    @property
    def bounds(self) -> Sequence[float]: ...
    @property
    def counts(self) -> Sequence[int]: ...
    @property
    def samples(self) -> int: ...
    @property
    def total(self) -> float: ...


def histogram(name: str, help_text: str, series: Iterable[tuple[Labels | None, Buckets]]) -> list[str]:
    """One histogram family; each series has its own bucket counts (per bucket, not yet cumulative)."""
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for labels, data in series:
        base = dict(labels or {})
        cumulative = 0
        for bound, count in zip((*data.bounds, math.inf), data.counts, strict=True):
            cumulative += count
            lines.append(f"{name}_bucket{_labels({**base, 'le': _number(float(bound))})} {cumulative}")
        lines.append(f"{name}_sum{_labels(base)} {data.total:.6f}")
        lines.append(f"{name}_count{_labels(base)} {data.samples}")
    return lines


class HistogramData:
    """Buckets taken from elsewhere (the loop-lag monitor's, converted to seconds)."""

    __slots__ = ("bounds", "counts", "samples", "total")

    def __init__(self, bounds: Sequence[float], counts: Sequence[int], samples: int, total: float) -> None:
        self.bounds = bounds
        self.counts = counts
        self.samples = samples
        self.total = total
