"""The shadow report as read from CloudWatch (a fake GetMetricData here), its window and
period, its summary, and the rules `shadow promote` applies to it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelship import names
from modelship.errors import InvalidShadow
from modelship.releases.shadow import parse_sample, promotion_concerns
from modelship.releases.shadow_agreement import ShadowReport, query_window, read_report
from modelship.serving.shadow_state import ShadowState

NOW = datetime(2026, 11, 28, 10, 42, 30, tzinfo=UTC)
STATE = ShadowState(
    model="churn",
    lambda_version="7",
    model_version="v4",
    sample_rate=0.2,
    started_at=datetime(2026, 11, 28, 10, 0, 15, tzinfo=UTC),
    started_by="arn:aws:iam::123456789012:user/ops",
)


class FakeCloudWatch:
    """Answers GetMetricData from a table (metric, ModelVersion, stat) -> values, two queries
    per page; records every call. `percentiles` False answers percentile queries with an
    error, as an endpoint that cannot compute them does."""

    def __init__(self, table: dict[tuple[str, str, str], list[float]], percentiles: bool = True):
        self.table = table
        self.percentiles = percentiles
        self.calls: list[dict[str, Any]] = []

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        queries = kwargs["MetricDataQueries"]
        if not self.percentiles and any(q["MetricStat"]["Stat"].startswith("p") for q in queries):
            raise ClientError(
                {"Error": {"Code": "InternalFailure", "Message": "no"}}, "GetMetricData"
            )
        offset = int(kwargs.get("NextToken") or 0)
        page = queries[offset : offset + 2]
        results = []
        for query in page:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            version = {d["Name"]: d["Value"] for d in metric["Dimensions"]}.get(
                names.METRIC_DIMENSION_MODEL_VERSION, "*"
            )
            values = self.table.get((metric["MetricName"], version, stat["Stat"]), [])
            results.append({"Id": query["Id"], "Values": values, "Timestamps": []})
        answer: dict[str, Any] = {"MetricDataResults": results}
        if offset + 2 < len(queries):
            answer["NextToken"] = str(offset + 2)
        return answer


TABLE = {
    (names.METRIC_SHADOW_REQUESTS, "v4", "Sum"): [200.0],
    (names.METRIC_SHADOW_ERRORS, "v4", "Sum"): [2.0],
    (names.METRIC_SHADOW_ROWS, "v4", "Sum"): [1000.0],
    (names.METRIC_SHADOW_AGREEING_ROWS, "v4", "Sum"): [950.0],
    (names.METRIC_SHADOW_SCORE_DIFF_SUM, "v4", "Sum"): [30.0],
    (names.METRIC_SHADOW_SCORE_DIFF_MAX, "v4", "Maximum"): [0.4],
    (names.METRIC_SHADOW_LATENCY, "v4", "SampleCount"): [198.0],
    (names.METRIC_SHADOW_LATENCY, "v4", "p50"): [4.0],
    (names.METRIC_SHADOW_LATENCY, "v4", "p99"): [12.0],
    (names.METRIC_MODEL_LATENCY, "v3", "SampleCount"): [1000.0],
    (names.METRIC_MODEL_LATENCY, "v3", "p50"): [3.0],
    (names.METRIC_MODEL_LATENCY, "v3", "p99"): [9.0],
    # The serving side's counts, read under the model-wide set ("*": no ModelVersion).
    (names.METRIC_SHADOW_MIRRORED, "*", "Sum"): [202.0],
    (names.METRIC_SHADOW_MIRRORED, "v3", "Sum"): [190.0],
    (names.METRIC_SHADOW_SKIPPED, "*", "Sum"): [1.0],
}


def report(cloudwatch: FakeCloudWatch) -> ShadowReport:
    return read_report(
        cloudwatch,
        STATE,
        stable_lambda_version="6",
        stable_model_version="v3",
        end=NOW,
        now=NOW,
        final=False,
    )


def test_the_report_adds_up_the_window_and_reads_ratios_from_the_sums() -> None:
    cloudwatch = FakeCloudWatch(TABLE)

    shown = report(cloudwatch)

    assert (shown.requests, shown.errors, shown.error_rate) == (200.0, 2.0, 0.01)
    assert (shown.rows, shown.agreeing_rows, shown.agreement) == (1000.0, 950.0, 0.95)
    assert shown.mean_score_diff == pytest.approx(0.03)
    assert shown.max_score_diff == 0.4
    assert shown.mirrored == 202.0  # every serving version's, not only the stable's
    assert shown.skipped == 1.0
    assert (shown.shadow_latency.p50_ms, shown.shadow_latency.p99_ms) == (4.0, 12.0)
    assert (shown.stable_latency.p50_ms, shown.stable_latency.p99_ms) == (3.0, 9.0)
    assert shown.percentiles_note == ""
    # Pages were followed (two queries a page), and every query covered one whole period.
    first = cloudwatch.calls[0]
    assert len(cloudwatch.calls) > 2
    assert first["StartTime"] == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert first["EndTime"] == datetime(2026, 11, 28, 10, 43, tzinfo=UTC)
    assert {q["MetricStat"]["Period"] for q in first["MetricDataQueries"]} == {43 * 60}


def test_the_report_is_json_safe_and_reads_back() -> None:
    shown = report(FakeCloudWatch(TABLE))

    dumped = json.dumps(shown.model_dump(mode="json"))

    assert ShadowReport.model_validate_json(dumped) == shown
    assert json.loads(dumped)["start"] == "2026-11-28T10:00:15Z"


def test_no_traffic_gives_no_ratios_rather_than_zeros() -> None:
    shown = report(FakeCloudWatch({}))

    assert shown.requests == 0.0
    assert shown.error_rate is None
    assert shown.agreement is None
    assert shown.mean_score_diff is None
    assert shown.max_score_diff is None
    assert shown.shadow_latency.p50_ms is None
    assert "no rows compared yet" in shown.summary()
    assert "no samples" in shown.summary()


def test_percentiles_an_endpoint_cannot_compute_are_unavailable_not_estimated() -> None:
    shown = report(FakeCloudWatch(TABLE, percentiles=False))

    assert shown.shadow_latency.samples == 198.0
    assert shown.shadow_latency.p50_ms is None
    assert shown.stable_latency.p99_ms is None
    assert "unavailable" in shown.percentiles_note
    assert "InternalFailure" in shown.percentiles_note
    assert "percentiles unavailable" in shown.summary()
    assert shown.agreement == 0.95  # the rest of the report stands


def test_percentiles_missing_from_an_answer_are_unavailable() -> None:
    table = {k: v for k, v in TABLE.items() if k[2] not in ("p50", "p99")}

    shown = report(FakeCloudWatch(table))

    assert shown.stable_latency.p50_ms is None
    assert "returned none" in shown.percentiles_note


def test_summary_names_the_figures_an_operator_reads() -> None:
    text = report(FakeCloudWatch(TABLE)).summary()

    assert "v7 (churn v4) beside stable v6 (v3)" in text
    assert "sampling 20%" in text
    assert "agreement  95.00% of 1000 rows (50 differ)" in text
    assert "errors 2 (1.00%)" in text
    assert "shadow p50 4.0 ms, p99 12.0 ms" in text
    assert "stable p50 3.0 ms, p99 9.0 ms" in text


@pytest.mark.parametrize(
    ("start_age", "step"),
    [
        (timedelta(minutes=42), 60),
        (timedelta(days=3), 60),
        (timedelta(days=20), 300),
        (timedelta(days=70), 3600),
    ],
)
def test_the_query_window_uses_a_period_cloudwatch_keeps_for_its_start(
    start_age: timedelta, step: int
) -> None:
    start = NOW - start_age
    first, last, period = query_window(start, NOW, NOW)

    assert first <= start
    assert last >= NOW
    assert period == (last - first).total_seconds()
    assert period % step == 0
    assert first.timestamp() % step == 0
    assert period - (NOW - start).total_seconds() < 2 * step


def test_an_empty_window_still_covers_one_period() -> None:
    start = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)

    assert query_window(start, start, start) == (start, start + timedelta(minutes=1), 60)


@pytest.mark.parametrize(
    ("text", "rate"), [("20%", 0.2), ("0.2", 0.2), ("100%", 1.0), ("1", 1.0), (" 5% ", 0.05)]
)
def test_sample_takes_a_share_as_weights_do(text: str, rate: float) -> None:
    assert parse_sample(text) == pytest.approx(rate)


@pytest.mark.parametrize("text", ["0", "0%", "150%", "-0.1", "20", "lots", "nan"])
def test_a_sample_outside_zero_to_one_is_refused_naming_it(text: str) -> None:
    with pytest.raises(InvalidShadow) as raised:
        parse_sample(text)

    assert raised.value.reason == "invalid_sample_rate"
    assert "sample" in str(raised.value)


def test_promotion_concerns_name_no_traffic_errors_and_low_agreement() -> None:
    good = report(FakeCloudWatch(TABLE))
    assert promotion_concerns(good) == []

    silent = report(FakeCloudWatch({}))
    assert promotion_concerns(silent) == [
        "the shadow answered no requests: there is nothing to judge"
    ]

    bad = good.model_copy(update={"error_rate": 0.05, "agreement": 0.8})
    concerns = promotion_concerns(bad)
    assert len(concerns) == 2
    assert "failed 5.00% of its requests" in concerns[0]
    assert "agreed with the served answer on 80.00% of rows" in concerns[1]
