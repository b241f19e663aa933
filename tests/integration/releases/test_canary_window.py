"""read_window against moto with the emulator's extended statistics: each side's counts and
histograms are what the values put for that model version give, binned as the judge's
simulation bins them (Histogram.of_values over the same edges)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from modelship import names
from modelship.local.moto_patches import extended_statistics, ordered_dimensions
from modelship.releases.canary_alarms import canary_dimensions
from modelship.releases.canary_samples import (
    EDGE_PERCENTILES,
    SCORE_EDGES,
    Histogram,
    shared_edges,
)
from modelship.releases.canary_window import LAMBDA_NAMESPACE, read_window
from modelship.releases.verdict import VerdictPolicy, judge

MODEL = "churn"
FUNCTION = "churn-predict"
ALIAS = "live"
SIDES: dict[str, str] = {
    "model_name": MODEL,
    "function_name": FUNCTION,
    "alias": ALIAS,
    "stable_version": "v1",
    "candidate_version": "v2",
    "stable_lambda_version": "3",
    "candidate_lambda_version": "4",
}


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws(), ordered_dimensions(), extended_statistics():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def _put(
    cloudwatch: Any,
    metric: str,
    values: Any,
    at: datetime,
    *,
    version: str,
    model: str = MODEL,
) -> None:
    distinct, counts = np.unique(np.asarray(values, dtype=float), return_counts=True)
    # put_metric_data takes at most 150 distinct values per datum (Values/Counts)
    for begin in range(0, distinct.size, 150):
        cloudwatch.put_metric_data(
            Namespace=names.METRICS_NAMESPACE,
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": canary_dimensions(model, version),
                    "Values": distinct[begin : begin + 150].tolist(),
                    "Counts": counts[begin : begin + 150].astype(float).tolist(),
                    "Timestamp": at,
                }
            ],
        )


def _put_lambda(
    cloudwatch: Any,
    metric: str,
    total: float,
    at: datetime,
    *,
    version: str,
    resource: str = f"{FUNCTION}:{ALIAS}",
) -> None:
    """What Lambda records for invocations through an alias (as the emulator's
    `lambda_metric_data` does): Sums under {FunctionName, Resource, ExecutedVersion}."""
    cloudwatch.put_metric_data(
        Namespace=LAMBDA_NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "FunctionName", "Value": FUNCTION},
                    {"Name": "Resource", "Value": resource},
                    {"Name": "ExecutedVersion", "Value": version},
                ],
                "Value": total,
                "Unit": "Count",
                "Timestamp": at,
            }
        ],
    )


def _side(
    cloudwatch: Any, version: str, at: datetime, rng: Any, *, errors: int, scale: float
) -> dict[str, np.ndarray]:
    requests = 400
    latency = np.round(rng.gamma(4.0, scale, size=requests), 3)
    scores = np.round(rng.beta(5.0, 2.0, size=requests * 3), 2)  # some land on 0.05 edges
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(requests), at, version=version)
    failed = np.r_[np.ones(errors), np.zeros(requests - errors)]
    _put(cloudwatch, names.METRIC_PREDICTION_ERRORS, failed, at, version=version)
    _put(cloudwatch, names.METRIC_MODEL_LATENCY, latency, at, version=version)
    _put(cloudwatch, names.METRIC_PREDICTION_SCORE, scores, at, version=version)
    return {"latency": latency, "scores": scores}


def _percentiles(values: np.ndarray) -> list[float]:
    """Nearest rank, in integers (numpy's inverted_cdf multiplies floats: 0.35 * 400 is
    140.00000000000003, so it would take the 141st value)."""
    ordered = np.sort(values)
    return [float(ordered[-(-p * ordered.size // 100) - 1]) for p in EDGE_PERCENTILES]


def test_read_window_counts_and_bins_each_side(cloudwatch: Any) -> None:
    # Given a canary window in which v1 (stable) and v2 (a slower candidate) both served
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=10)
    start += timedelta(seconds=20)  # floored to the minute by read_window
    end = start + timedelta(minutes=4)
    rng = np.random.default_rng(15)
    inside = start + timedelta(minutes=1)
    stable = _side(cloudwatch, "v1", inside, rng, errors=3, scale=0.5)
    candidate = _side(cloudwatch, "v2", inside + timedelta(minutes=2), rng, errors=7, scale=0.8)
    # and data the window must not count: before it, after it, and another model's "v2"
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(50), start - timedelta(minutes=2), version="v1")
    _put(cloudwatch, names.METRIC_MODEL_LATENCY, [1e6], end + timedelta(minutes=1), version="v2")
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(9), inside, version="v2", model="other")

    # When the window is read
    window = read_window(
        cloudwatch,
        **SIDES,
        start=start,
        end=end,
        scores=True,
    )

    # Then the window is whole minutes around [start, end)
    assert window.start == start.replace(second=0)
    assert window.end == (end + timedelta(minutes=1)).replace(second=0)
    # and each side's counts are its own
    assert (window.stable.model_version, window.candidate.model_version) == ("v1", "v2")
    assert (window.stable.requests, window.stable.errors) == (400, 3)
    assert (window.candidate.requests, window.candidate.errors) == (400, 7)
    # and the latency bins are the union of both sides' percentiles, each side binned over them
    edges = shared_edges(_percentiles(stable["latency"]), _percentiles(candidate["latency"]))
    assert window.stable.latency == Histogram.of_values(stable["latency"], edges)
    assert window.candidate.latency == Histogram.of_values(candidate["latency"], edges)
    assert len(edges) > len(EDGE_PERCENTILES)  # the two sides' percentiles differ
    # and the scores are binned over the fixed score edges
    assert window.stable.scores == Histogram.of_values(stable["scores"], SCORE_EDGES)
    assert window.candidate.scores == Histogram.of_values(candidate["scores"], SCORE_EDGES)
    assert window.candidate.scores is not None
    assert window.candidate.scores.total == 1200


def test_a_side_without_traffic_has_empty_histograms_and_no_scores_unless_asked(
    cloudwatch: Any,
) -> None:
    # Given only the stable side served in the window
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    latency = [2.0, 3.0, 3.0, 5.0, 8.0]
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(5), start, version="v1")
    _put(cloudwatch, names.METRIC_MODEL_LATENCY, latency, start, version="v1")

    # When the window is read without scores (a regressor)
    window = read_window(
        cloudwatch,
        **SIDES,
        start=start,
        end=start + timedelta(minutes=1),
        scores=False,
    )

    # Then the candidate's side is empty over the stable's edges, and no side has scores
    edges = shared_edges(_percentiles(np.array(latency)))
    assert edges == (2.0, 3.0, 5.0, 8.0)
    assert window.stable.latency == Histogram.of_values(latency, edges)
    assert window.candidate.latency == Histogram(edges, (0.0,) * 5)
    assert (window.candidate.requests, window.candidate.errors) == (0, 0)
    assert window.stable.scores is None
    assert window.candidate.scores is None


def test_lambda_invocations_and_errors_count_for_each_lambda_version(cloudwatch: Any) -> None:
    # Given a stable whose handler answered 100 requests (2 prediction errors) while Lambda
    # counted 104 invocations through the alias for its version, 3 of them function errors
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    inside = start + timedelta(seconds=30)
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(100), inside, version="v1")
    _put(
        cloudwatch,
        names.METRIC_PREDICTION_ERRORS,
        np.r_[np.ones(2), np.zeros(98)],
        inside,
        version="v1",
    )
    _put_lambda(cloudwatch, "Invocations", 104, inside, version="3")
    _put_lambda(cloudwatch, "Errors", 3, inside, version="3")
    # and a candidate that Lambda invoked 20 times, failing 5, with no handler metrics
    _put_lambda(cloudwatch, "Invocations", 20, inside, version="4")
    _put_lambda(cloudwatch, "Errors", 5, inside, version="4")
    # and Lambda data the window must not count: another alias, and before the window
    _put_lambda(cloudwatch, "Errors", 50, inside, version="4", resource=f"{FUNCTION}:beta")
    _put_lambda(cloudwatch, "Invocations", 70, start - timedelta(minutes=2), version="4")

    # When the window is read
    window = read_window(
        cloudwatch, **SIDES, start=start, end=start + timedelta(minutes=2), scores=False
    )

    # Then requests are the larger count and errors the handler's plus Lambda's
    assert (window.stable.requests, window.stable.errors) == (104, 5)
    assert (window.candidate.requests, window.candidate.errors) == (20, 5)


def test_a_candidate_crashing_before_its_handler_fails_on_errors(cloudwatch: Any) -> None:
    # Given a healthy stable serving 600 requests through the alias
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    inside = start + timedelta(seconds=30)
    rng = np.random.default_rng(3)
    _put(cloudwatch, names.METRIC_REQUESTS, np.ones(600), inside, version="v1")
    _put(cloudwatch, names.METRIC_PREDICTION_ERRORS, np.zeros(600), inside, version="v1")
    _put(cloudwatch, names.METRIC_MODEL_LATENCY, rng.gamma(4.0, 0.5, 600), inside, version="v1")
    _put_lambda(cloudwatch, "Invocations", 600, inside, version="3")
    _put_lambda(cloudwatch, "Errors", 0, inside, version="3")
    # and a candidate whose 30 invocations all failed in init: Lambda's metrics, no handler's
    _put_lambda(cloudwatch, "Invocations", 30, inside, version="4")
    _put_lambda(cloudwatch, "Errors", 30, inside, version="4")

    # When the window is read and judged
    window = read_window(
        cloudwatch, **SIDES, start=start, end=start + timedelta(minutes=2), scores=False
    )
    verdict = judge(window, VerdictPolicy())

    # Then the candidate's failures are counted and the verdict fails on errors
    assert (window.candidate.requests, window.candidate.errors) == (30, 30)
    assert verdict.outcome == "fail"
    errors = next(c for c in verdict.checks if c.name == "errors")
    assert errors.outcome == "fail"
    assert "errors" in verdict.reason
