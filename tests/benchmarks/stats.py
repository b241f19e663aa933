"""Order statistics for timing samples: percentiles and a summary that keeps the spread."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks, the
    definition numpy uses by default."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p90: float
    p99: float
    q1: float
    q3: float
    minimum: float
    maximum: float

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    def scaled(self, factor: float) -> Summary:
        """The same summary in other units (seconds to milliseconds, say)."""
        return Summary(
            n=self.n,
            p50=self.p50 * factor,
            p90=self.p90 * factor,
            p99=self.p99 * factor,
            q1=self.q1 * factor,
            q3=self.q3 * factor,
            minimum=self.minimum * factor,
            maximum=self.maximum * factor,
        )


def summarize(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p90=percentile(values, 90),
        p99=percentile(values, 99),
        q1=percentile(values, 25),
        q3=percentile(values, 75),
        minimum=min(values),
        maximum=max(values),
    )


def median_and_iqr(values: Sequence[float], unit_factor: float = 1.0, digits: int = 2) -> str:
    """`1.23 (IQR 1.10-1.40)`: how small repetition counts are reported."""
    s = summarize(values).scaled(unit_factor)
    return f"{s.p50:.{digits}f} (IQR {s.q1:.{digits}f}-{s.q3:.{digits}f})"
