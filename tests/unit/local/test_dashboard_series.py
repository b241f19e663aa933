"""The local dashboard's arithmetic: periods under time compression, statistics from raw
values, and SEARCH matching exactly the schema's dimension names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelship.local.dashboard_series import Window, parse_search, statistic

END = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_periods_shrink_with_the_time_scale_and_widen_to_fit_the_window() -> None:
    hour = Window(END - timedelta(hours=1), END, time_scale=30)
    day = Window(END - timedelta(days=1), END)

    assert hour.period(60) == 15  # 2 s, widened so an hour holds at most 240 periods
    assert Window(END - timedelta(minutes=5), END, time_scale=30).period(60) == 2
    assert Window(END - timedelta(minutes=5), END).period(60) == 60
    assert day.period(60) == 360
    assert hour.bucket(END + timedelta(seconds=20), 15) == END + timedelta(seconds=15)


@pytest.mark.parametrize(
    ("stat", "expected"),
    [("Sum", 5050.0), ("SampleCount", 100.0), ("Average", 50.5), ("Minimum", 1.0),
     ("Maximum", 100.0), ("p50", 50.0), ("p99", 99.0), ("p99.9", 100.0), ("p100", 100.0)],
)  # fmt: skip
def test_statistics_come_from_the_raw_values(stat: str, expected: float) -> None:
    assert statistic(stat, [float(v) for v in range(100, 0, -1)]) == expected


def test_a_search_matches_exactly_its_schemas_dimensions_and_exact_values() -> None:
    search = parse_search(
        'SEARCH(\'{modelship,Model,ModelVersion,service} MetricName="Requests" '
        'service="predict" Model="churn"\', \'Sum\', 60)'
    )
    version = {"service": "predict", "Model": "churn", "ModelVersion": "v1"}

    assert search.matches("modelship", "Requests", version)
    assert not search.matches("modelship", "Requests", {**version, "Model": "churn-forest"})
    assert not search.matches("modelship", "Requests", {"service": "predict", "Model": "churn"})
    assert not search.matches("modelship", "Requests", {**version, "Extra": "x"})
    assert not search.matches("modelship", "ClientErrors", version)
    assert not search.matches("other", "Requests", version)
