"""The window's bounds, GetMetricData paging and statuses, and histograms from percentile
ranks, without AWS: a stub client answers the pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from modelship.errors import ReleaseError
from modelship.releases.canary_samples import Histogram
from modelship.releases.canary_window import (
    MAX_QUERIES_PER_CALL,
    _decimal,
    _histogram,
    _stat_edges,
    fetch_values,
    read_window,
    window_bounds,
)

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


class StubPaginator:
    """Answers each paginate() call with the next list of pages; records the requests."""

    def __init__(self, answers: list[list[dict[str, Any]]]) -> None:
        self.answers = answers
        self.requests: list[dict[str, Any]] = []

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        self.requests.append(request)
        return self.answers.pop(0)


class StubCloudWatch:
    def __init__(self, paginator: StubPaginator) -> None:
        self.paginator = paginator

    def get_paginator(self, name: str) -> StubPaginator:
        assert name == "get_metric_data"
        return self.paginator


def _result(query_id: str, values: list[float], status: str = "Complete") -> dict[str, Any]:
    return {
        "Id": query_id,
        "Values": values,
        "Timestamps": [T0] * len(values),
        "StatusCode": status,
    }


def _queries(count: int) -> list[dict[str, Any]]:
    return [{"Id": f"q{i}", "MetricStat": {}} for i in range(count)]


def test_the_window_is_widened_to_whole_minutes() -> None:
    start = T0 + timedelta(seconds=42, microseconds=5)
    assert window_bounds(start, start + timedelta(minutes=3)) == (
        T0,
        T0 + timedelta(minutes=4),
    )
    assert window_bounds(T0, T0 + timedelta(minutes=2)) == (T0, T0 + timedelta(minutes=2))
    # a window shorter than a minute still asks for one whole minute
    assert window_bounds(T0, T0 + timedelta(seconds=1)) == (T0, T0 + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("start", "end", "complaint"),
    [
        (T0, T0, "is not after its start"),
        (T0 + timedelta(minutes=5), T0, "is not after its start"),
        (T0.replace(tzinfo=None), T0 + timedelta(minutes=1), "start .* has no time zone"),
    ],
)
def test_a_window_that_cannot_be_read_is_refused(
    start: datetime, end: datetime, complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        window_bounds(start, end)


def test_queries_go_500_to_a_call_and_follow_the_pages() -> None:
    # Given 620 queries, the first call's answer in two pages (PartialData, then the value)
    paginator = StubPaginator(
        [
            [
                {"MetricDataResults": [_result("q0", [], "PartialData"), _result("q1", [2.0])]},
                {"MetricDataResults": [_result("q0", [5.0], "Complete")]},
            ],
            [{"MetricDataResults": [_result("q600", [7.0])]}],
        ]
    )

    values = fetch_values(
        StubCloudWatch(paginator), _queries(620), start=T0, end=T0 + timedelta(minutes=5)
    )

    assert [len(r["MetricDataQueries"]) for r in paginator.requests] == [MAX_QUERIES_PER_CALL, 120]
    assert {r["StartTime"] for r in paginator.requests} == {T0}
    assert values == {"q0": 5.0, "q1": 2.0, "q600": 7.0}


@pytest.mark.parametrize("status", ["InternalError", "Forbidden", "PartialData"])
def test_a_query_cloudwatch_could_not_answer_fails_naming_it(status: str) -> None:
    failed = _result("c_lp95", [], status)
    failed["Messages"] = [{"Code": "X", "Value": "try again"}]
    paginator = StubPaginator([[{"MetricDataResults": [_result("s_requests", [3.0]), failed]}]])

    with pytest.raises(ReleaseError) as raised:
        fetch_values(StubCloudWatch(paginator), _queries(2), start=T0, end=T0 + timedelta(hours=1))

    assert raised.value.reason == "canary_metrics_unavailable"
    assert f"c_lp95: {status} (try again)" in str(raised.value)
    assert "s_requests" not in str(raised.value)


def test_more_than_one_period_over_the_window_is_refused_not_cut() -> None:
    paginator = StubPaginator([[{"MetricDataResults": [_result("c_requests", [3.0, 4.0])]}]])

    with pytest.raises(ReleaseError) as raised:
        fetch_values(StubCloudWatch(paginator), _queries(1), start=T0, end=T0 + timedelta(hours=1))

    assert raised.value.reason == "canary_metrics_unavailable"
    assert "c_requests with more than one period" in str(raised.value)


def test_a_histogram_is_the_differences_of_the_percentile_ranks() -> None:
    # 10 values; 30% at most 1.5, 60% at most 2.5, 100% at most 4
    values = {"xn": 10.0, "xr0": 30.0, "xr1": 60.0, "xr2": 100.0}
    assert _histogram(values, "x", (1.5, 2.5, 4.0)) == Histogram(
        (1.5, 2.5, 4.0), (3.0, 3.0, 4.0, 0.0)
    )


def test_a_dipping_estimate_never_makes_a_negative_bin() -> None:
    # an estimated rank lower than the previous edge's, and one above 100%
    values = {"xn": 200.0, "xr0": 50.0, "xr1": 49.5, "xr2": 100.4}
    histogram = _histogram(values, "x", (1.0, 2.0, 3.0))
    assert histogram == Histogram((1.0, 2.0, 3.0), (100.0, 0.0, 100.0, 0.0))


def test_no_data_is_an_empty_histogram_and_missing_ranks_are_none() -> None:
    assert _histogram({}, "x", (1.0, 2.0)) == Histogram((1.0, 2.0), (0.0, 0.0, 0.0))
    # counted values without a rank (CloudWatch gives none for negative values): unbinnable
    assert _histogram({"xn": 4.0, "xr0": 50.0}, "x", (1.0, 2.0)) is None


def test_edges_are_written_as_plain_decimals_of_at_most_ten_places() -> None:
    assert _decimal(12.5) == "12.5"
    assert _decimal(3.0) == "3"
    assert _decimal(123456.0) == "123456"
    assert _decimal(0.000123457) == "0.000123457"
    assert _decimal(1e-11) == "0"
    # the edges a histogram uses are the ones the statistics name, repeats merged
    assert _stat_edges([2e-11, 1e-11, 0.5, 0.25]) == (0.0, 0.25, 0.5)


class AnsweringPaginator:
    """Answers every query in one page: the value given for its id, else no data."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values = values
        self.queries: list[dict[str, Any]] = []

    def paginate(self, **request: Any) -> list[dict[str, Any]]:
        self.queries += request["MetricDataQueries"]
        ids = [q["Id"] for q in request["MetricDataQueries"]]
        found = [_result(i, [self.values[i]] if i in self.values else []) for i in ids]
        return [{"MetricDataResults": found}]


def test_each_side_reads_lambdas_own_counts_for_its_version_through_the_alias() -> None:
    # Given Lambda counted more for each side than its handler did; the candidate's Errors
    # reach CloudWatch before the invocations that had them
    paginator = AnsweringPaginator(
        {"s_requests": 90.0, "s_errors": 1.0, "s_li": 95.0, "s_le": 4.0}
        | {"c_requests": 0.0, "c_li": 6.0, "c_le": 8.0}
    )

    window = read_window(
        StubCloudWatch(paginator),
        model_name="churn",
        function_name="churn-predict",
        alias="live",
        stable_version="v1",
        candidate_version="v2",
        stable_lambda_version="7",
        candidate_lambda_version="8",
        start=T0,
        end=T0 + timedelta(minutes=5),
        scores=False,
    )

    # Then Lambda's Sums are asked for under the alias and each side's executed version
    lambda_queries = {
        q["Id"]: q["MetricStat"]
        for q in paginator.queries
        if q["MetricStat"]["Metric"]["Namespace"] == "AWS/Lambda"
    }
    assert sorted(lambda_queries) == ["c_le", "c_li", "s_le", "s_li"]
    assert lambda_queries["c_le"]["Metric"]["MetricName"] == "Errors"
    assert lambda_queries["c_le"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "churn-predict"},
        {"Name": "Resource", "Value": "churn-predict:live"},
        {"Name": "ExecutedVersion", "Value": "8"},
    ]
    assert lambda_queries["s_li"]["Metric"]["MetricName"] == "Invocations"
    assert {m["Stat"] for m in lambda_queries.values()} == {"Sum"}
    # and requests are the larger count, errors the sum, never more than the requests
    assert (window.stable.requests, window.stable.errors) == (95, 5)
    assert (window.candidate.requests, window.candidate.errors) == (6, 6)
