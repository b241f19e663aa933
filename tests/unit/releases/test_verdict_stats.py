"""The judge's tests against scipy on raw values: with every value in its own bin, the binned
tests are the textbook ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from modelship.releases.canary_samples import Histogram
from modelship.releases.verdict_stats import (
    binned_ks,
    binned_mann_whitney,
    binned_median,
    error_rate_test,
)


def one_value_per_bin(*samples: np.ndarray) -> list[Histogram]:
    edges = np.unique(np.concatenate(samples))
    return [Histogram.of_values(sample, edges) for sample in samples]


@pytest.mark.parametrize(
    ("errors", "requests", "base_errors", "base_requests"),
    [(1, 60, 0, 1200), (3, 150, 2, 2850), (0, 200, 4, 3800), (7, 100, 1, 100)],
)
def test_small_counts_use_fishers_exact_test(
    errors: int, requests: int, base_errors: int, base_requests: int
) -> None:
    table = [[errors, requests - errors], [base_errors, base_requests - base_errors]]

    result = error_rate_test(errors, requests, base_errors, base_requests)

    assert result.method == "exact test"
    assert result.z is None
    expected = stats.fisher_exact(table, alternative="greater").pvalue
    assert result.p_value == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("errors", "requests", "base_errors", "base_requests"),
    [(38, 1500, 142, 28500), (8, 1500, 142, 28500), (60, 1000, 40, 1000), (30, 1000, 30, 1000)],
)
def test_larger_counts_use_the_continuity_corrected_z_test(
    errors: int, requests: int, base_errors: int, base_requests: int
) -> None:
    table = np.array([[errors, requests - errors], [base_errors, base_requests - base_errors]])
    chi2 = stats.chi2_contingency(table, correction=True)

    result = error_rate_test(errors, requests, base_errors, base_requests)

    assert result.method == "z test"
    assert result.z is not None
    # One-sided z squared is Yates' chi-squared; its p is half the two-sided one on the
    # worse side.
    assert result.z**2 == pytest.approx(chi2.statistic, rel=1e-9)
    worse = errors / requests > base_errors / base_requests
    expected_p = chi2.pvalue / 2 if worse else 1 - chi2.pvalue / 2
    assert result.p_value == pytest.approx(expected_p, rel=1e-9, abs=1e-15)


def test_error_counts_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="errors <= requests"):
        error_rate_test(5, 4, 0, 100)
    with pytest.raises(ValueError, match="requests >= 1"):
        error_rate_test(0, 0, 0, 100)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binned_mann_whitney_with_a_bin_per_value_is_scipys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    # Rounded so that some values tie across and within the samples.
    candidate = np.round(rng.lognormal(3.1, 0.5, 300), 1)
    stable = np.round(rng.lognormal(3.0, 0.5, 2000), 1)
    cand_hist, stable_hist = one_value_per_bin(candidate, stable)

    result = binned_mann_whitney(cand_hist, stable_hist)

    expected = stats.mannwhitneyu(candidate, stable, alternative="greater", method="asymptotic")
    assert result.u == pytest.approx(expected.statistic, rel=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert stats.norm.sf(result.z) == pytest.approx(expected.pvalue, rel=1e-9)


def test_binned_mann_whitney_ties_a_bins_values_at_its_midrank() -> None:
    rng = np.random.default_rng(3)
    candidate, stable = rng.normal(10.5, 2, 400), rng.normal(10, 2, 4000)
    edges = np.arange(6.0, 15.0, 1.0)

    result = binned_mann_whitney(
        Histogram.of_values(candidate, edges), Histogram.of_values(stable, edges)
    )

    # Every value replaced by its bin's index (outer bins included): the same ranks and ties.
    expected = stats.mannwhitneyu(
        np.searchsorted(edges, candidate), np.searchsorted(edges, stable), alternative="greater"
    )
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert result.p_value < 1e-3


def test_binned_mann_whitney_with_everything_in_one_bin_finds_nothing() -> None:
    result = binned_mann_whitney(Histogram((1.0,), (50.0, 0.0)), Histogram((1.0,), (900.0, 0.0)))

    assert result.p_value == 1.0


def test_sides_binned_differently_are_refused() -> None:
    with pytest.raises(ValueError, match="same edges"):
        binned_mann_whitney(Histogram((1.0, 2.0), (1, 1, 1)), Histogram((1.0, 3.0), (1, 1, 1)))
    with pytest.raises(ValueError, match="same edges"):
        binned_ks(Histogram((1.0,), (1, 1)), Histogram((2.0,), (1, 1)))


def test_the_binned_median_interpolates_within_its_bin() -> None:
    # 10 values <= 10, 20 in (10, 20], 10 above: the 20th value is halfway through the middle.
    assert binned_median(Histogram((10.0, 20.0), (10, 20, 10))) == pytest.approx(15.0)
    # A median in an open-ended bin is that bin's finite edge.
    assert binned_median(Histogram((10.0, 20.0), (1, 1, 10))) == 20.0
    assert binned_median(Histogram((10.0, 20.0), (10, 1, 1))) == 10.0
    # Fractional counts (CloudWatch's PR times the sample count).
    assert binned_median(Histogram((0.0, 4.0), (0.0, 2.5, 0.0))) == pytest.approx(2.0)


def test_the_binned_median_of_fine_bins_is_close_to_the_raw_median() -> None:
    values = np.random.default_rng(4).lognormal(3, 0.5, 5000)
    edges = np.percentile(values, range(5, 100, 5))

    assert binned_median(Histogram.of_values(values, edges)) == pytest.approx(
        np.median(values), rel=1e-3
    )


@pytest.mark.parametrize(("shift", "seed"), [(0.0, 5), (0.1, 6), (0.3, 7)])
def test_binned_ks_with_a_bin_per_value_is_scipys(shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    candidate = np.round(rng.beta(5 + 10 * shift, 2, 400), 3)
    stable = np.round(rng.beta(5, 2, 3000), 3)
    cand_hist, stable_hist = one_value_per_bin(candidate, stable)

    result = binned_ks(cand_hist, stable_hist)

    expected = stats.ks_2samp(candidate, stable, method="asymp")
    assert result.distance == pytest.approx(expected.statistic, abs=1e-12)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_binned_ks_never_exceeds_the_raw_distance() -> None:
    rng = np.random.default_rng(8)
    candidate, stable = rng.beta(6, 2, 500), rng.beta(5, 2, 5000)
    coarse = [0.2, 0.4, 0.6, 0.8]

    binned = binned_ks(Histogram.of_values(candidate, coarse), Histogram.of_values(stable, coarse))

    raw = stats.ks_2samp(candidate, stable).statistic
    assert 0 < binned.distance <= raw + 1e-12
    assert not math.isnan(binned.p_value)
