"""What a canary verdict is judged on: each side's requests, errors, and the binned
distributions of its model latency and (for classifiers) prediction scores, over one window.

The bins are CloudWatch's: `PR(:edge)` (percentile rank, upper bound included) times the
SampleCount gives how many values are at most each edge, so a histogram's counts may be
fractional. `modelship.releases.canary_window` reads these from CloudWatch; the judge
(`modelship.releases.verdict`) and its simulation build them from values too.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Histogram:
    """Counts of values in the bins (-inf, e0], (e0, e1], ..., (e_last, inf): one more count
    than edges. Edges strictly increase."""

    edges: tuple[float, ...]
    counts: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.counts) != len(self.edges) + 1:
            raise ValueError(
                f"a histogram with {len(self.edges)} edges needs {len(self.edges) + 1} counts, "
                f"not {len(self.counts)}"
            )
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("histogram edges must strictly increase")
        if any(c < 0 for c in self.counts):
            raise ValueError("histogram counts cannot be negative")

    @property
    def total(self) -> float:
        return float(sum(self.counts))

    @classmethod
    def of_values(cls, values: Iterable[float], edges: Sequence[float]) -> Histogram:
        """Bins values as CloudWatch's PR would: a value equal to an edge is in the bin the
        edge closes."""
        ordered = tuple(float(e) for e in edges)
        counts = [0.0] * (len(ordered) + 1)
        for value in values:
            counts[bisect_left(ordered, value)] += 1
        return cls(ordered, tuple(counts))


# Percentiles of each side whose union makes a distribution's bin edges: bins then follow the
# data's own scale (a 2 ms model and a 2 s model are binned as finely).
EDGE_PERCENTILES = tuple(range(5, 100, 5))
# Prediction scores (class probabilities) lie in [0, 1]: fixed edges.
SCORE_EDGES = tuple(round(0.05 * i, 2) for i in range(1, 20))


def shared_edges(*percentile_values: Iterable[float]) -> tuple[float, ...]:
    """The bin edges two sides are compared over: the union of their percentile values
    (EDGE_PERCENTILES of each), rounded to 6 significant digits, without repeats."""
    values = {float(f"{v:.6g}") for side in percentile_values for v in side if v == v}
    return tuple(sorted(values))


@dataclass(frozen=True)
class SideSample:
    """One side of the comparison (stable or candidate) over the window."""

    model_version: str
    requests: int
    errors: int
    latency: Histogram | None = None
    scores: Histogram | None = None


@dataclass(frozen=True)
class CanaryWindow:
    """Both sides over the same window [start, end)."""

    start: datetime
    end: datetime
    stable: SideSample
    candidate: SideSample
