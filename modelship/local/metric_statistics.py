"""CloudWatch's extended statistics computed exactly over raw values, for the emulator.

CloudWatch answers `pNN`, `PR(a:b)`, `TC(a:b)` and `tcNN` from approximate per-period
summaries; the emulator holds every raw value (moto stores each datum) and computes them
exactly, with the definitions of CloudWatch's "Statistics definitions" page:

  pNN, pNN.NN   the percentile: the smallest value v with at least NN% of the values <= v
                (nearest rank, as numpy's method="inverted_cdf" but in exact arithmetic:
                numpy's 0.35 * 400 is 140.00000000000003, so it takes the 141st of 400)
  PR(a:b)       percentile rank: the percentage of values v with a < v <= b (lower bound
                excluded, upper included); PR(:b) and PR(a:) leave one side open
  TC(a:b)       trimmed count: how many values v have a < v <= b; TC(X%:Y%) takes the bounds
                at the Xth and Yth percentiles (a 0% lower bound excludes nothing); tcNN is
                TC(:NN%), the values not in the highest (100 - NN)%

CloudWatch needs raw values for these: a statistic set counts only when its SampleCount is 1
or its Minimum equals its Maximum (API reference, GetMetricStatistics), and none is available
when any value is negative. Either way the statistic has no value (None), as on AWS.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

STANDARD_STATISTICS = frozenset({"SampleCount", "Sum", "Average", "Minimum", "Maximum"})

# Bounds are plain decimals ("up to 10 decimal places", Statistics definitions).
_NUMBER = r"-?\d+(?:\.\d+)?"
_SHORTHAND = re.compile(r"(p|tc)(\d+(?:\.\d+)?)")
_RANGE = re.compile(rf"(PR|TC)\(({_NUMBER}%?)?:({_NUMBER}%?)?\)")


class InvalidStatistic(ValueError):
    """A statistic string CloudWatch would not accept (or the emulator does not know)."""


@dataclass(frozen=True)
class Statistic:
    """One extended statistic, parsed: `compute` takes the period's values, sorted."""

    text: str
    compute: Callable[[Sequence[float]], float]

    def of(self, values: Iterable[float]) -> float | None:
        """The statistic over one period's raw values; None when CloudWatch gives none (no
        values, or a negative one)."""
        ordered = sorted(values)
        if not ordered or ordered[0] < 0:
            return None
        return self.compute(ordered)


def is_extended(text: str) -> bool:
    return text not in STANDARD_STATISTICS


def parse_statistic(text: str) -> Statistic:
    """The extended statistic `text` names; InvalidStatistic saying what is wrong otherwise."""
    shorthand = _SHORTHAND.fullmatch(text)
    if shorthand:
        kind, number = shorthand.groups()
        share = _percent(text, number)
        if kind == "p":
            return Statistic(text, lambda ordered: percentile(ordered, share))
        return Statistic(text, lambda ordered: _trimmed_count(ordered, None, share, True))
    ranged = _RANGE.fullmatch(text)
    if not ranged:
        raise InvalidStatistic(
            f"statistic {text!r} is not SampleCount, Sum, Average, Minimum, Maximum, pNN, "
            "tcNN, PR(a:b) or TC(a:b)"
        )
    kind, low, high = ranged.groups()
    if low is None and high is None:
        raise InvalidStatistic(f"statistic {text!r} needs at least one bound")
    percents = {bound.endswith("%") for bound in (low, high) if bound is not None}
    if len(percents) > 1:
        raise InvalidStatistic(f"statistic {text!r} mixes a percentage with a value")
    in_percent = percents.pop()
    if kind == "PR" and in_percent:
        raise InvalidStatistic(f"statistic {text!r}: PR bounds are values of the metric")
    lower = _bound(text, low, in_percent)
    upper = _bound(text, high, in_percent)
    if lower is not None and upper is not None and lower >= upper:
        raise InvalidStatistic(f"statistic {text!r}: the lower bound must be below the upper")
    if kind == "PR":
        return Statistic(text, lambda ordered: percentile_rank(ordered, lower, upper))
    return Statistic(text, lambda ordered: _trimmed_count(ordered, lower, upper, in_percent))


def percentile(ordered: Sequence[float], share: Fraction) -> float:
    """Nearest rank: the value at rank ceil(share * n / 100) (at least 1) of sorted values.
    `share` is exact (a Fraction), so p7 of 100 values is the 7th, not the 8th."""
    rank = max(1, math.ceil(share * len(ordered) / 100))
    return float(ordered[min(rank, len(ordered)) - 1])


def percentile_rank(
    ordered: Sequence[float], lower: Fraction | None, upper: Fraction | None
) -> float:
    """100 * the share of sorted values v with lower < v <= upper (None: unbounded)."""
    return 100.0 * _count_between(ordered, lower, upper) / len(ordered)


def _trimmed_count(
    ordered: Sequence[float], lower: Fraction | None, upper: Fraction | None, in_percent: bool
) -> float:
    if in_percent:
        low = None if lower is None or lower == 0 else Fraction(percentile(ordered, lower))
        high = None if upper is None else Fraction(percentile(ordered, upper))
        return float(_count_between(ordered, low, high))
    return float(_count_between(ordered, lower, upper))


def _count_between(ordered: Sequence[float], lower: Fraction | None, upper: Fraction | None) -> int:
    # A bound becomes the float its decimal names, as a stored value did: PR(:0.1) includes
    # a value put as 0.1.
    above = 0 if lower is None else bisect_right(ordered, float(lower))
    at_most = len(ordered) if upper is None else bisect_right(ordered, float(upper))
    return max(0, at_most - above)


def _percent(text: str, number: str) -> Fraction:
    share = Fraction(number)
    if share > 100:
        raise InvalidStatistic(f"statistic {text!r}: {number} is above 100 percent")
    return share


def _bound(text: str, bound: str | None, in_percent: bool) -> Fraction | None:
    if bound is None:
        return None
    if in_percent:
        share = _percent(text, bound.rstrip("%"))
        if share < 0:
            raise InvalidStatistic(f"statistic {text!r}: {bound} is below 0 percent")
        return share
    return Fraction(bound)


def raw_values(data: Iterable[object]) -> list[float] | None:
    """The raw values of moto's stored data for one period: each single value, and each
    statistic set that stands for one repeated value (SampleCount 1, or Minimum ==
    Maximum); None when another statistic set hides its values."""
    values: list[float] = []
    for datum in data:
        if hasattr(datum, "value"):
            values.append(float(datum.value))
            continue
        count = float(getattr(datum, "sample_count", 0))
        low, high = float(getattr(datum, "min", 0)), float(getattr(datum, "max", 0))
        if count == 1:
            values.append(float(getattr(datum, "sum", low)))
        elif low == high:
            values.extend([low] * round(count))
        else:
            return None
    return values
