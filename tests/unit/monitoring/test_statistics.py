"""PSI, the one-sample KS test and the chi-squared goodness of fit, against hand-computed
values and scipy's own implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from modelship.monitoring.statistics import (
    PSI_FLOOR,
    bin_counts,
    bonferroni,
    chi_squared_test,
    ks_p_value,
    ks_test,
    merged_bins,
    psi,
    quantile_cdf,
    step_cdf,
)


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    by_hand = 0.25 * math.log(2) + 0.25 * math.log(1.5)

    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(by_hand, rel=1e-12)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_floors_an_empty_bin_so_a_new_value_is_strong_but_finite_evidence() -> None:
    by_hand = (0.9 - 1.0) * math.log(0.9) + (0.1 - PSI_FLOOR) * math.log(0.1 / PSI_FLOOR)

    assert psi([1.0, 0.0], [0.9, 0.1]) == pytest.approx(by_hand, rel=1e-12)
    assert psi([1.0, 0.0], [0.9, 0.1]) > 0.69


def test_psi_refuses_different_bins() -> None:
    with pytest.raises(ValueError, match="same bins"):
        psi([0.5, 0.5], [1.0])


def test_bin_counts_put_values_outside_the_training_range_in_the_outer_bins() -> None:
    counts = bin_counts(np.array([-5.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0]), [0.0, 1.0, 2.0])

    assert counts.tolist() == [3, 4]  # [0, 1) holds -5, 0, 0.5; [1, 2] holds 1, 1.5, 2, 9


def test_ks_against_uniform_quantiles_is_scipys_kstest_against_the_uniform() -> None:
    sample = np.random.default_rng(3).normal(0.2, 1.0, 400)
    quantiles = np.linspace(-3.0, 3.0, 101)  # linear between them: uniform on [-3, 3]

    ours = ks_test(sample, quantiles=quantiles)
    reference = stats.kstest(sample, stats.uniform(loc=-3.0, scale=6.0).cdf)

    assert ours.statistic == pytest.approx(reference.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_ks_against_training_quantiles_matches_scipy_with_the_same_cdf() -> None:
    rng = np.random.default_rng(4)
    quantiles = np.quantile(rng.exponential(2.0, 5000), np.linspace(0, 1, 101))
    sample = rng.exponential(3.0, 300)

    ours = ks_test(sample, quantiles=quantiles)
    reference = stats.kstest(sample, lambda x: quantile_cdf(quantiles, np.asarray(x))[0])

    assert ours.statistic == pytest.approx(reference.statistic, abs=1e-12)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert ours.p_value < 0.01  # a 50% larger scale, 300 values: found


def test_quantile_cdf_is_linear_between_quantiles_and_jumps_at_a_run_of_equal_ones() -> None:
    # 0th..10th percentiles are 0 (an atom of 10%), then 1, 2, ..., 90.
    quantiles = [0.0] * 11 + [float(k) for k in range(1, 91)]

    right, left = quantile_cdf(quantiles, np.array([-1.0, 0.0, 0.5, 1.0, 45.0, 90.0, 91.0]))

    assert right.tolist() == pytest.approx([0.0, 0.10, 0.105, 0.11, 0.55, 1.0, 1.0])
    assert left.tolist() == pytest.approx([0.0, 0.0, 0.105, 0.11, 0.55, 1.0, 1.0])


def test_step_cdf_and_its_left_limits() -> None:
    right, left = step_cdf([0.0, 1.0, 2.0], [0.5, 0.3, 0.2], np.array([-1.0, 0.0, 1.0, 1.5, 2.0]))

    assert right.tolist() == pytest.approx([0.0, 0.5, 0.8, 0.8, 1.0])
    assert left.tolist() == pytest.approx([0.0, 0.0, 0.5, 0.8, 0.8])


def test_ks_on_a_discrete_feature_uses_the_exact_step_cdf() -> None:
    support, fractions = [0.0, 1.0, 2.0], [0.5, 0.3, 0.2]
    matching = np.array([0.0] * 5 + [1.0] * 3 + [2.0] * 2)
    shifted = np.array([0.0] * 2 + [1.0] * 3 + [2.0] * 5)

    same = ks_test(matching, support=support, fractions=fractions)
    moved = ks_test(shifted, support=support, fractions=fractions)
    # scipy's kstest assumes a continuous F: ties make it see a gap that is not there.
    naive = stats.kstest(matching, lambda x: step_cdf(support, fractions, np.asarray(x))[0])

    assert same.statistic == 0.0
    assert same.p_value == 1.0
    assert naive.statistic == pytest.approx(0.5)
    # ECDF 0.2, 0.5, 1.0 against F 0.5, 0.8, 1.0: D = 0.3, p from scipy's exact distribution.
    assert moved.statistic == pytest.approx(0.3)
    assert moved.p_value == pytest.approx(stats.kstwo.sf(0.3, 10), rel=1e-12)


def test_ks_counts_a_value_never_seen_in_training() -> None:
    result = ks_test(np.array([0.0] * 150 + [7.0] * 50), support=[0.0, 1.0], fractions=[0.8, 0.2])

    # ECDF at 0 is 0.75 against F 0.8; just below 7 it is 0.75 against 1.0: D = 0.25.
    assert result.statistic == pytest.approx(0.25)
    assert result.p_value < 1e-9


def test_ks_against_a_constant_feature() -> None:
    constant = [3.0] * 101

    same = ks_test(np.full(300, 3.0), quantiles=constant)
    other = ks_test(np.array([3.0] * 240 + [4.0] * 60), quantiles=constant)

    assert (same.statistic, same.p_value) == (0.0, 1.0)
    assert other.statistic == pytest.approx(0.2)
    assert other.p_value < 1e-9


def test_ks_needs_values_and_a_cdf() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        ks_test(np.array([]), quantiles=[0.0] * 101)
    with pytest.raises(ValueError, match="quantiles or support"):
        ks_test(np.array([1.0]))


def test_the_ks_p_value_is_asymptotic_for_large_windows() -> None:
    assert ks_p_value(0.01, 20_000) == pytest.approx(stats.kstwo.sf(0.01, 20_000), abs=2e-3)
    assert ks_p_value(0.01, 20_000) == pytest.approx(stats.kstwobign.sf(0.01 * math.sqrt(20_000)))


def test_chi_squared_by_hand_and_against_scipy() -> None:
    result = chi_squared_test([0.5, 0.3, 0.2], [40, 35, 25])

    # (40-50)^2/50 + (35-30)^2/30 + (25-20)^2/20; two degrees of freedom: p = exp(-x / 2).
    by_hand = 2.0 + 25 / 30 + 1.25
    assert result is not None
    assert result.statistic == pytest.approx(by_hand, rel=1e-12)
    assert result.p_value == pytest.approx(math.exp(-by_hand / 2), rel=1e-9)
    assert result.p_value == pytest.approx(stats.chisquare([40, 35, 25], [50, 30, 20]).pvalue)


def test_categories_expected_fewer_than_five_times_are_merged() -> None:
    # Expected 90, 5, 3, 2: the 3 and the 2 pool into one bin of 5.
    result = chi_squared_test([0.9, 0.05, 0.03, 0.02], [85, 5, 6, 4])

    assert merged_bins(np.array([90.0, 5.0, 3.0, 2.0])) == [[0], [1], [2, 3]]
    assert result is not None
    assert result.p_value == pytest.approx(stats.chisquare([85, 5, 10], [90, 5, 5]).pvalue)


def test_an_unseen_category_is_merged_into_a_bin_large_enough_to_test() -> None:
    # Expected 50, 48, 2 and 0 (unseen): the 2 and the 0 pool, then take the 48.
    result = chi_squared_test([0.5, 0.48, 0.02, 0.0], [40, 40, 2, 18])

    assert merged_bins(np.array([50.0, 48.0, 2.0, 0.0])) == [[0], [1, 2, 3]]
    assert result is not None
    assert result.p_value == pytest.approx(stats.chisquare([40, 60], [50, 50]).pvalue)


def test_no_chi_squared_test_when_one_bin_remains() -> None:
    assert chi_squared_test([0.97, 0.02, 0.01], [90, 5, 5]) is None
    assert chi_squared_test([1.0, 0.0], [80, 20]) is None
    with pytest.raises(ValueError, match="at least one value"):
        chi_squared_test([0.5, 0.5], [0, 0])


def test_bonferroni_multiplies_by_the_number_of_tests_capped_at_one() -> None:
    assert bonferroni([0.001, 0.02, 0.6]) == pytest.approx([0.003, 0.06, 1.0])
    assert bonferroni([]) == []
