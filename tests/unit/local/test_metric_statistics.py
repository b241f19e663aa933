"""The emulator's extended statistics, exact over raw values, checked against numpy."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from modelship.local.metric_statistics import (
    InvalidStatistic,
    is_extended,
    parse_statistic,
    raw_values,
)

RNG = np.random.default_rng(15)
LATENCIES = np.round(RNG.lognormal(mean=1.0, sigma=0.6, size=997), 3)


def _of(text: str, values: np.ndarray) -> float | None:
    return parse_statistic(text).of(values.tolist())


@pytest.mark.parametrize("q", [0, 1, 5, 25, 50, 75, 90, 95, 99, 99.9, 100])
def test_percentiles_are_nearest_rank_as_numpy_inverted_cdf(q: float) -> None:
    expected = float(np.percentile(LATENCIES, q, method="inverted_cdf"))
    assert _of(f"p{q:g}", LATENCIES) == expected


def test_percentiles_use_exact_shares() -> None:
    # 7% of 100 values is exactly the 7th; a float product (7.000000000000001) would say 8th.
    values = np.arange(1.0, 101.0)
    assert _of("p7", values) == 7.0
    assert _of("p99.99", values) == 100.0
    assert _of("p0.5", values) == 1.0


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [("PR(:2.5)", None, 2.5), ("PR(1.5:4)", 1.5, 4.0), ("PR(3:)", 3.0, None)],
)
def test_percentile_rank_excludes_the_lower_bound_and_includes_the_upper(
    text: str, low: float | None, high: float | None
) -> None:
    lower = -np.inf if low is None else low
    upper = np.inf if high is None else high
    above = np.greater(LATENCIES, lower)
    at_most = np.less_equal(LATENCIES, upper)
    expected = 100.0 * np.count_nonzero(above & at_most) / LATENCIES.size
    assert _of(text, LATENCIES) == pytest.approx(expected, abs=1e-12)


def test_percentile_rank_counts_values_equal_to_a_bound_once() -> None:
    values = np.array([1.0, 2.0, 2.0, 3.0, 0.1])
    assert _of("PR(:2)", values) == 80.0  # 0.1, 1, 2, 2
    assert _of("PR(2:3)", values) == 20.0  # only 3: 2 is the excluded lower bound
    assert _of("PR(:0.1)", values) == 20.0  # the bound names the same float as the value


def test_trimmed_counts() -> None:
    values = np.arange(1.0, 21.0)  # 1..20
    assert _of("TC(5:10)", values) == 5.0  # 6..10
    assert _of("TC(:10)", values) == 10.0
    assert _of("TC(15:)", values) == 5.0
    # tc90: the values not in the highest 10%: p90 is 18, so 1..18
    assert _of("tc90", values) == float(np.count_nonzero(values <= 18))
    # TC(10%:90%): above p10 (2) and at most p90 (18)
    assert _of("TC(10%:90%)", values) == 16.0
    assert _of("TC(0%:50%)", values) == 10.0  # a 0% lower bound trims nothing


def test_no_value_without_data_or_with_a_negative_value() -> None:
    # API reference, GetMetricStatistics: no percentiles when any value is negative.
    assert parse_statistic("p50").of([]) is None
    assert parse_statistic("PR(:1)").of([-1.0, 2.0]) is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("p101", "above 100 percent"),
        ("p", "is not SampleCount"),
        ("P99", "is not SampleCount"),
        ("PR(:)", "at least one bound"),
        ("PR(10%:90%)", "PR bounds are values"),
        ("TC(10%:500)", "mixes a percentage"),
        ("PR(5:1)", "lower bound must be below"),
        ("TC(1e-3:1)", "is not SampleCount"),
        ("Median", "is not SampleCount"),
    ],
)
def test_a_statistic_cloudwatch_would_not_parse_is_refused_by_name(
    text: str, complaint: str
) -> None:
    with pytest.raises(InvalidStatistic, match=complaint) as raised:
        parse_statistic(text)
    assert repr(text) in str(raised.value)


def test_standard_statistics_are_not_extended() -> None:
    assert not is_extended("SampleCount")
    assert not is_extended("Average")
    assert is_extended("p99")


def test_raw_values_expand_statistic_sets_that_stand_for_one_value() -> None:
    single = SimpleNamespace(value=2.5)
    one_sample = SimpleNamespace(sample_count=1.0, sum=4.0, min=4.0, max=4.0)
    repeated = SimpleNamespace(sample_count=3.0, sum=3.0, min=1.0, max=1.0)
    assert raw_values([single, one_sample, repeated]) == [2.5, 4.0, 1.0, 1.0, 1.0]


def test_a_statistic_set_hiding_its_values_leaves_no_raw_values() -> None:
    spread = SimpleNamespace(sample_count=2.0, sum=4.0, min=1.0, max=3.0)
    assert raw_values([SimpleNamespace(value=1.0), spread]) is None
