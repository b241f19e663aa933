"""The statistics a window of served rows is judged with against a training profile: the
population stability index over bins, the one-sample Kolmogorov-Smirnov test against the
training CDF (a step CDF, or linear between quantiles), and the chi-squared goodness of fit.
Pure numpy and scipy; nothing here knows about manifests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# An empty bin would make PSI infinite: its fraction counts as this much instead.
PSI_FLOOR = 1e-4
# Chi-squared's approximation needs every expected count at least this large (Cochran's rule).
MIN_EXPECTED_COUNT = 5.0
# scipy's exact KS distribution (kstwo) is slow past this many values (~0.1 s at 100,000);
# beyond it the asymptotic Kolmogorov distribution is within 1e-3 of it.
KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float


def psi(expected: Sequence[float] | np.ndarray, observed: Sequence[float] | np.ndarray) -> float:
    """Population stability index of two distributions over the same bins, given as fractions:
    the sum of (observed - expected) * ln(observed / expected), each fraction floored at
    PSI_FLOOR so an empty bin counts as strong (finite) evidence."""
    e = np.maximum(np.asarray(expected, dtype=float), PSI_FLOOR)
    o = np.maximum(np.asarray(observed, dtype=float), PSI_FLOOR)
    if e.shape != o.shape:
        raise ValueError(f"psi needs the same bins on both sides: {e.shape} != {o.shape}")
    return float(np.sum((o - e) * np.log(o / e)))


def bin_counts(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts over the bins between `edges`, as the profile counted its training rows: values
    below the first edge fall in the first bin, above the last in the last."""
    edges_array = np.asarray(edges, dtype=float)
    clipped = np.clip(values, edges_array[0], edges_array[-1])
    counts, _ = np.histogram(clipped, bins=edges_array)
    return counts


def step_cdf(
    support: Sequence[float], fractions: Sequence[float], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """F(x) and its left limit F(x-) of the discrete distribution putting `fractions` on the
    ascending `support` (renormalised)."""
    weights = np.asarray(fractions, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(weights) / weights.sum()])
    cumulative[-1] = 1.0
    points = np.asarray(support, dtype=float)
    at_or_below = np.searchsorted(points, x, side="right")
    below = np.searchsorted(points, x, side="left")
    return cumulative[at_or_below], cumulative[below]


def quantile_cdf(quantiles: Sequence[float], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F(x) and F(x-) of the distribution whose k-th of n+1 quantiles is `quantiles[k]`, linear
    between distinct quantiles; a run of equal quantiles is an atom (a jump in F) there."""
    q = np.asarray(quantiles, dtype=float)
    levels = np.linspace(0.0, 1.0, len(q))
    points, first = np.unique(q, return_index=True)
    last = np.append(first[1:] - 1, len(q) - 1)
    left_at, right_at = levels[first], levels[last]  # F(u-) and F(u) at each distinct u
    i = np.searchsorted(points, x, side="right") - 1  # the largest distinct quantile <= x
    inside = (i >= 0) & (i < len(points) - 1)
    j = np.clip(i, 0, len(points) - 1)
    k = np.clip(i + 1, 0, len(points) - 1)
    span = np.where(inside, points[k] - points[j], 1.0)
    slope = np.where(inside, (left_at[k] - right_at[j]) / span, 0.0)
    right = np.where(i < 0, 0.0, right_at[j] + slope * (x - points[j]))
    right = np.where(i >= len(points) - 1, 1.0, right)
    exact = (i >= 0) & (points[j] == x)
    left = np.where(exact, left_at[j], right)
    return right, left


def ks_statistic(
    x: np.ndarray, cdf_right: np.ndarray, cdf_left: np.ndarray, counts: np.ndarray
) -> float:
    """sup |F_n - F| for the sample whose distinct values `x` (ascending) occur `counts` times,
    given F and F- at them. The sup is reached at a sample value or just before one, so ties in
    the sample and atoms in F are both handled (scipy's kstest assumes neither)."""
    n = counts.sum()
    ecdf_right = np.cumsum(counts) / n
    ecdf_left = ecdf_right - counts / n
    return float(max(np.abs(ecdf_right - cdf_right).max(), np.abs(ecdf_left - cdf_left).max()))


def ks_p_value(statistic: float, n: int) -> float:
    """Two-sided p-value of a one-sample KS statistic over n values, as scipy's kstest computes
    it (the exact distribution), asymptotic past KS_EXACT_MAX_N values. For a discrete F the
    test is conservative: the p-value is at least the true one."""
    if n <= KS_EXACT_MAX_N:
        p = float(stats.kstwo.sf(statistic, n))
    else:
        p = float(stats.kstwobign.sf(statistic * math.sqrt(n)))
    return min(max(p, 0.0), 1.0)


def ks_test(
    sample: np.ndarray,
    *,
    quantiles: Sequence[float] = (),
    support: Sequence[float] = (),
    fractions: Sequence[float] = (),
) -> TestResult:
    """One-sample KS test of `sample` against the training CDF: the exact step CDF when
    `support` is given, else linear between `quantiles`."""
    if len(sample) == 0:
        raise ValueError("the KS test needs at least one value")
    x, counts = np.unique(np.asarray(sample, dtype=float), return_counts=True)
    if len(support):
        right, left = step_cdf(support, fractions, x)
    elif len(quantiles):
        right, left = quantile_cdf(quantiles, x)
    else:
        raise ValueError("the KS test needs the training quantiles or support")
    d = ks_statistic(x, right, left, counts)
    return TestResult(statistic=d, p_value=ks_p_value(d, int(counts.sum())))


def merged_bins(expected: np.ndarray) -> list[list[int]]:
    """Groups of bin indices so that every group's expected count is at least
    MIN_EXPECTED_COUNT: the bins below it pooled together, then the smallest others added to
    the pool until it is large enough. One group means no test is possible."""
    order = [int(i) for i in np.argsort(expected, kind="stable")]
    pool = [i for i in order if expected[i] < MIN_EXPECTED_COUNT]
    rest = [i for i in order if expected[i] >= MIN_EXPECTED_COUNT]
    while pool and sum(expected[i] for i in pool) < MIN_EXPECTED_COUNT and rest:
        pool.append(rest.pop(0))
    groups = [[i] for i in sorted(rest)]
    if pool:
        groups.append(sorted(pool))
    return groups


def chi_squared_test(
    expected_fractions: Sequence[float] | np.ndarray, observed_counts: Sequence[int] | np.ndarray
) -> TestResult | None:
    """Chi-squared goodness of fit of the counts to the expected fractions (renormalised), bins
    with expected count below MIN_EXPECTED_COUNT merged first; None when fewer than two bins
    remain (nothing to test)."""
    observed = np.asarray(observed_counts, dtype=float)
    fractions = np.asarray(expected_fractions, dtype=float)
    n = observed.sum()
    if n <= 0:
        raise ValueError("the chi-squared test needs at least one value")
    expected = fractions / fractions.sum() * n
    groups = merged_bins(expected)
    if len(groups) < 2:
        return None
    f_obs = np.array([observed[g].sum() for g in groups])
    f_exp = np.array([expected[g].sum() for g in groups])
    result = stats.chisquare(f_obs, f_exp)
    return TestResult(statistic=float(result.statistic), p_value=float(result.pvalue))


def bonferroni(p_values: Sequence[float]) -> list[float]:
    """Each p-value times the number of tests, capped at 1: a family-wise error rate."""
    m = len(p_values)
    return [min(1.0, p * m) for p in p_values]
