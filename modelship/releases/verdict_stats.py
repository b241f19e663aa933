"""The tests a canary verdict is made of, on counts and on binned distributions.

Latency and scores reach the judge as CloudWatch-style histograms (`canary_samples.Histogram`),
not raw values: every value of a bin is taken as tied with the others of that bin, which is
what the rank test's tie correction is for. With one value per bin these are the textbook
tests (scipy's `fisher_exact`, `chi2_contingency`, `mannwhitneyu`, `ks_2samp` agree).

The error and rank tests use the standard library only: the release function and the CLI
judge canaries, and importing `scipy.stats` costs them about a second. The KS p-value needs
scipy's exact Kolmogorov distribution, imported when scores are compared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import accumulate

from modelship.releases.canary_samples import Histogram

# Below this many expected errors (or successes) in a cell, the normal approximation to the
# error-rate difference is poor (Cochran's rule): use the exact test.
EXACT_BELOW_EXPECTED = 5.0


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class RateTest:
    """One-sided test that the first error rate is higher than the second."""

    z: float | None  # None for the exact test
    p_value: float
    method: str  # "exact test" or "z test"


def error_rate_test(errors: int, requests: int, base_errors: int, base_requests: int) -> RateTest:
    """Is `errors / requests` higher than `base_errors / base_requests`? Fisher's exact test
    when a cell of the 2x2 table expects fewer than 5, else the continuity-corrected
    two-proportion z test (equivalently Yates' chi-squared, one-sided)."""
    for count, total in ((errors, requests), (base_errors, base_requests)):
        if total < 1 or not 0 <= count <= total:
            raise ValueError(f"error counts need 0 <= errors <= requests >= 1, not {count}/{total}")
    n = requests + base_requests
    failed = errors + base_errors
    expected = [
        total * share / n for total in (requests, base_requests) for share in (failed, n - failed)
    ]
    if min(expected) < EXACT_BELOW_EXPECTED:
        return RateTest(None, _hypergeometric_sf(errors, n, failed, requests), "exact test")
    difference = errors / requests - base_errors / base_requests
    pooled = failed / n
    spread = 1 / requests + 1 / base_requests
    correction = min(0.5 * spread, abs(difference))
    z = math.copysign(abs(difference) - correction, difference) / math.sqrt(
        pooled * (1 - pooled) * spread
    )
    return RateTest(z, normal_sf(z), "z test")


def _hypergeometric_sf(at_least: int, population: int, marked: int, drawn: int) -> float:
    """P(X >= at_least) for X the marked items among `drawn` taken from `population`: Fisher's
    one-sided p-value for the first row of the table having at least that many errors."""
    top = min(marked, drawn)
    low = max(at_least, 0, drawn - (population - marked))
    if low > top:
        return 0.0

    def log_choose(n: int, k: int) -> float:
        return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)

    denominator = log_choose(population, drawn)
    total = math.fsum(
        math.exp(log_choose(marked, x) + log_choose(population - marked, drawn - x) - denominator)
        for x in range(low, top + 1)
    )
    return min(total, 1.0)


def _same_edges(first: Histogram, second: Histogram) -> None:
    if first.edges != second.edges:
        raise ValueError(
            "both sides must be binned on the same edges (canary_samples.shared_edges), "
            f"not {len(first.edges)} and {len(second.edges)} different ones"
        )


@dataclass(frozen=True)
class RankTest:
    """One-sided Mann-Whitney test that the first sample tends to be larger."""

    u: float  # the first sample's U
    z: float
    p_value: float


def binned_mann_whitney(first: Histogram, second: Histogram) -> RankTest:
    """Mann-Whitney U of `first` against `second`, one value per count, the values of a bin
    tied at the bin's midrank; the p-value is the tie-corrected normal approximation with the
    continuity correction, as scipy's `mannwhitneyu(method="asymptotic")` computes it."""
    _same_edges(first, second)
    n1, n2 = first.total, second.total
    if n1 <= 0 or n2 <= 0:
        raise ValueError("a rank test needs values on both sides")
    n = n1 + n2
    pooled = [a + b for a, b in zip(first.counts, second.counts, strict=True)]
    below = [0.0, *accumulate(pooled)][:-1]
    rank_sum = math.fsum(
        a * (before + (t + 1) / 2) for a, t, before in zip(first.counts, pooled, below, strict=True)
    )
    u = rank_sum - n1 * (n1 + 1) / 2
    ties = math.fsum(t**3 - t for t in pooled)
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        # Every value in one bin: the sides cannot be told apart.
        return RankTest(u, 0.0, 1.0)
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return RankTest(u, z, normal_sf(z))


def binned_median(histogram: Histogram) -> float:
    """The median, interpolated linearly within its bin; a median in an open-ended outer bin
    is that bin's finite edge."""
    if not histogram.edges or histogram.total <= 0:
        raise ValueError("a median needs values binned on at least one edge")
    half = histogram.total / 2
    before = 0.0
    for index, count in enumerate(histogram.counts):
        if count > 0 and before + count >= half:
            if index == 0:
                return histogram.edges[0]
            if index == len(histogram.edges):
                return histogram.edges[-1]
            low, high = histogram.edges[index - 1], histogram.edges[index]
            return low + (half - before) / count * (high - low)
        before += count
    return histogram.edges[-1]


@dataclass(frozen=True)
class DistanceTest:
    """Two-sided two-sample Kolmogorov-Smirnov test."""

    distance: float
    p_value: float


def binned_ks(first: Histogram, second: Histogram) -> DistanceTest:
    """The largest gap between the two empirical CDFs at the bin edges, and its p-value from
    the Kolmogorov distribution at the effective sample size, as scipy's
    `ks_2samp(method="asymp")` computes it. Binning can only hide gaps: D is at most the raw
    values' D, so the test errs on the side of passing."""
    _same_edges(first, second)
    n1, n2 = first.total, second.total
    if n1 <= 0 or n2 <= 0:
        raise ValueError("a KS test needs values on both sides")
    gaps = (
        abs(a / n1 - b / n2)
        for a, b in zip(accumulate(first.counts), accumulate(second.counts), strict=True)
    )
    distance = max(gaps, default=0.0)
    from scipy.stats import kstwo  # about a second to import: only when scores are compared

    effective = max(1, round(n1 * n2 / (n1 + n2)))
    return DistanceTest(distance, float(min(max(kstwo.sf(distance, effective), 0.0), 1.0)))
