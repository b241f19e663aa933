"""CloudWatch's extended statistics in the emulator: GetMetricData and GetMetricStatistics
answer percentiles, percentile ranks and trimmed counts per period over every stored value,
including each value of a Values/Counts datum and of an EMF array."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from modelship.local.metrics import MetricsPublisher, emf_metric_data
from modelship.local.moto_patches import extended_statistics, ordered_dimensions

NAMESPACE = "modelship-test"
DIMENSIONS = [{"Name": "service", "Value": "predict"}, {"Name": "Model", "Value": "churn"}]


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws(), ordered_dimensions(), extended_statistics():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def _minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)


def _query(query_id: str, stat: str, period: int = 60) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": NAMESPACE, "MetricName": "Latency", "Dimensions": DIMENSIONS},
            "Period": period,
            "Stat": stat,
        },
    }


def _values(cloudwatch: Any, stats: list[str], start: datetime, minutes: int) -> dict[str, list]:
    queries = [_query(f"q{i}", stat) for i, stat in enumerate(stats)]
    response = cloudwatch.get_metric_data(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=start + timedelta(minutes=minutes),
        ScanBy="TimestampAscending",
    )
    by_id = {r["Id"]: r["Values"] for r in response["MetricDataResults"]}
    return {stat: by_id[f"q{i}"] for i, stat in enumerate(stats)}


def test_get_metric_data_computes_extended_statistics_per_period(cloudwatch: Any) -> None:
    # Given two minutes of latencies, put as Values with Counts (each counted Counts times)
    start = _minute()
    rng = np.random.default_rng(7)
    minutes = [np.round(rng.gamma(2.0, 3.0, size=150), 2), np.round(rng.gamma(5.0, 2.0, 90), 2)]
    for offset, values in enumerate(minutes):
        distinct, counts = np.unique(values, return_counts=True)
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "Latency",
                    "Dimensions": DIMENSIONS,
                    "Values": distinct.tolist(),
                    "Counts": counts.astype(float).tolist(),
                    "Timestamp": start + timedelta(minutes=offset, seconds=10),
                }
            ],
        )

    # When GetMetricData asks for them over one-minute periods
    stats = ["SampleCount", "p50", "p99", "p12.5", "PR(:5)", "PR(4:10)", "TC(2:8)", "tc90"]
    got = _values(cloudwatch, stats, start, minutes=2)

    # Then each period's value is the exact statistic of that minute's values
    for index, values in enumerate(minutes):
        p90 = np.percentile(values, 90, method="inverted_cdf")
        expected = {
            "SampleCount": float(values.size),
            "p50": np.percentile(values, 50, method="inverted_cdf"),
            "p99": np.percentile(values, 99, method="inverted_cdf"),
            "p12.5": np.percentile(values, 12.5, method="inverted_cdf"),
            "PR(:5)": 100.0 * np.count_nonzero(values <= 5) / values.size,
            "PR(4:10)": 100.0 * np.count_nonzero((values > 4) & (values <= 10)) / values.size,
            "TC(2:8)": float(np.count_nonzero((values > 2) & (values <= 8))),
            "tc90": float(np.count_nonzero(values <= p90)),
        }
        for stat, value in expected.items():
            assert got[stat][index] == pytest.approx(float(value)), stat


def test_each_value_of_an_emf_array_is_counted(cloudwatch: Any) -> None:
    # Given one EMF document carrying 40 latencies of one metric (Powertools writes a list
    # when a metric is added more than once)
    start = _minute()
    latencies = [float(v) for v in range(1, 41)]
    document = {
        "_aws": {
            "Timestamp": int((start + timedelta(seconds=10)).timestamp() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["service", "Model"]],
                    "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}],
                }
            ],
        },
        "service": "predict",
        "Model": "churn",
        "Latency": latencies,
    }
    MetricsPublisher(cloudwatch).put(emf_metric_data(document))

    # When the minute it was written in is read
    got = _values(cloudwatch, ["SampleCount", "PR(:10)", "p95"], start, minutes=1)

    # Then all 40 are there
    assert got == {"SampleCount": [40.0], "PR(:10)": [25.0], "p95": [38.0]}


def test_get_metric_statistics_answers_extended_statistics(cloudwatch: Any) -> None:
    start = _minute()
    cloudwatch.put_metric_data(
        Namespace=NAMESPACE,
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": DIMENSIONS,
                "Values": [1.0, 2.0, 3.0, 4.0],
                "Counts": [1.0, 2.0, 3.0, 4.0],
                "Timestamp": start + timedelta(seconds=5),
            }
        ],
    )

    response = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="Latency",
        Dimensions=DIMENSIONS,
        StartTime=start,
        EndTime=start + timedelta(minutes=1),
        Period=60,
        ExtendedStatistics=["p50", "p100", "PR(:2)", "tc50"],
    )

    [point] = response["Datapoints"]
    # 1, 2, 2, 3, 3, 3, 4, 4, 4, 4
    assert point["ExtendedStatistics"] == {"p50": 3.0, "p100": 4.0, "PR(:2)": 30.0, "tc50": 6.0}


def test_statistics_and_extended_statistics_together_are_refused(cloudwatch: Any) -> None:
    start = _minute()
    with pytest.raises(ClientError, match="not both"):
        cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="Latency",
            StartTime=start,
            EndTime=start + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
            ExtendedStatistics=["p50"],
        )


def test_a_malformed_statistic_is_refused_naming_the_query(cloudwatch: Any) -> None:
    start = _minute()
    with pytest.raises(ClientError) as raised:
        cloudwatch.get_metric_data(
            MetricDataQueries=[_query("ok", "Sum"), _query("bad", "PR(10%:90%)")],
            StartTime=start,
            EndTime=start + timedelta(minutes=1),
        )
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "MetricDataQueries.member.2.MetricStat.Stat" in str(raised.value)
    assert "PR(10%:90%)" in str(raised.value)


def test_a_period_with_a_negative_value_has_no_percentile(cloudwatch: Any) -> None:
    # API reference: percentiles are not available when any value is negative.
    start = _minute()
    for offset, value in enumerate([-1.0, 2.0]):
        cloudwatch.put_metric_data(
            Namespace=NAMESPACE,
            MetricData=[
                {
                    "MetricName": "Latency",
                    "Dimensions": DIMENSIONS,
                    "Value": value,
                    "Timestamp": start + timedelta(minutes=offset, seconds=1),
                }
            ],
        )

    response = cloudwatch.get_metric_data(
        MetricDataQueries=[_query("p", "p50"), _query("n", "SampleCount")],
        StartTime=start,
        EndTime=start + timedelta(minutes=2),
        ScanBy="TimestampAscending",
    )

    by_id = {r["Id"]: r for r in response["MetricDataResults"]}
    assert by_id["n"]["Values"] == [1.0, 1.0]
    assert by_id["p"]["Values"] == [2.0]
    assert by_id["p"]["Timestamps"] == [start + timedelta(minutes=1)]


def test_a_metric_is_its_namespace_name_and_whole_dimension_set(cloudwatch: Any) -> None:
    start = _minute()
    at = start + timedelta(seconds=3)
    for namespace, dimensions, value in (
        (NAMESPACE, DIMENSIONS, 1.0),
        ("elsewhere", DIMENSIONS, 50.0),
        (NAMESPACE, DIMENSIONS[:1], 70.0),
        (NAMESPACE, [*DIMENSIONS, {"Name": "ModelVersion", "Value": "v1"}], 90.0),
    ):
        cloudwatch.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {"MetricName": "Latency", "Dimensions": dimensions, "Value": value, "Timestamp": at}
            ],
        )

    got = _values(cloudwatch, ["SampleCount", "Maximum", "p100"], start, minutes=1)

    assert got == {"SampleCount": [1.0], "Maximum": [1.0], "p100": [1.0]}
