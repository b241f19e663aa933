"""The statistics behind docs/performance.md: percentiles agree with numpy's definition."""

import numpy as np
import pytest

from tests.benchmarks.stats import median_and_iqr, percentile, summarize


def test_percentile_interpolates_between_ranks_like_numpy() -> None:
    values = [7.0, 1.0, 3.0, 10.0, 2.0, 5.0]

    for q in (0, 10, 25, 50, 75, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_known_sample() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100

    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([4.0], 99) == 4.0


def test_percentile_rejects_empty_sample_and_bad_rank() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_summary_reports_spread_and_scales_units() -> None:
    summary = summarize([0.001, 0.002, 0.003, 0.004, 0.010])

    assert summary.n == 5
    assert summary.p50 == pytest.approx(0.003)
    assert summary.q1 == pytest.approx(0.002)
    assert summary.q3 == pytest.approx(0.004)
    assert summary.iqr == pytest.approx(0.002)
    assert (summary.minimum, summary.maximum) == (0.001, 0.010)
    in_ms = summary.scaled(1000.0)
    assert in_ms.p50 == pytest.approx(3.0)
    assert in_ms.p99 == pytest.approx(summary.p99 * 1000.0)
    assert median_and_iqr([0.001, 0.002, 0.003, 0.004, 0.010], 1000.0) == "3.00 (IQR 2.00-4.00)"
