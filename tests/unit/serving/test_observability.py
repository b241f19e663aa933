"""The predict function's metrics: which dimension sets they carry and which requests count."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from modelship import names
from modelship.errors import SchemaMismatch, UnknownModel
from modelship.serving.http_errors import error_response, internal_error_response
from modelship.serving.observability import record_capture, record_failure, record_prediction
from modelship.serving.service import Prediction

PREDICTION = Prediction(
    model_name="churn",
    model_version="v7",
    predictions=[1, 0],
    classes=None,
    probability_rows=None,
    rows=2,
    model_latency_ms=3.5,
    out_of_range_values=1,
    numeric_values=12,
)


class _Log:
    def __init__(self) -> None:
        self.warnings: list[dict[str, Any]] = []

    def warning(self, msg: str, *, extra: dict[str, Any]) -> None:
        self.warnings.append(extra)


def _dimension_sets(document: dict[str, Any]) -> list[dict[str, str]]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return [{name: document[name] for name in names} for names in directive["Dimensions"]]


def test_a_prediction_carries_the_canary_set_and_the_model_wide_set() -> None:
    # Another service name in the environment must not change what the alarms read.
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship", service="something-else")

    record_prediction(metrics, "churn", PREDICTION)

    document = metrics.serialize_metric_set()
    assert _dimension_sets(document) == [
        {"service": "predict", "Model": "churn", "ModelVersion": "v7"},
        {"service": "predict", "Model": "churn"},
    ]
    assert (document["Requests"], document["Predictions"]) == ([1.0], [2.0])


@pytest.mark.parametrize(
    ("path", "counted"),
    [
        ("/predict", True),
        ("/models/churn/predict", True),
        ("/models/churn-forest/predict", False),  # not this function's model
        ("/models/churn/health", False),
        ("/health", False),
    ],
)
def test_only_the_models_own_predict_routes_count_a_failure(path: str, counted: bool) -> None:
    metrics, log = AmazonCloudWatchEMFProvider(namespace="modelship"), _Log()
    answer = error_response(SchemaMismatch("x", []), "req-1")

    record_failure(
        log, metrics, answer, path=path, model_name="churn", model_version="v7", detail="d"
    )

    assert log.warnings == [{"reason": "schema_mismatch", "status": 422, "detail": "d"}]
    assert bool(metrics.metric_set) is counted
    if counted:
        document = metrics.serialize_metric_set()
        assert {"service": "predict", "Model": "churn"} in _dimension_sets(document)
        assert (document["ClientErrors"], document["PredictionErrors"]) == ([1.0], [0.0])


def test_a_server_error_on_the_model_route_counts_against_the_model() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship")

    record_failure(
        _Log(),
        metrics,
        internal_error_response("req-2"),
        path="/models/churn/predict",
        model_name="churn",
        model_version="v7",
        detail="KeyError",
    )

    document = metrics.serialize_metric_set()
    assert (document["PredictionErrors"], document["ClientErrors"]) == ([1.0], [0.0])
    assert document["reason"] == "internal_error"


def test_an_unknown_model_is_logged_and_not_counted() -> None:
    metrics, log = AmazonCloudWatchEMFProvider(namespace="modelship"), _Log()

    record_failure(
        log,
        metrics,
        error_response(UnknownModel("x")),
        path="/models/ltv/predict",
        model_name="churn",
        model_version="v7",
        detail="x",
    )

    assert [w["reason"] for w in log.warnings] == ["unknown_model"]
    assert not metrics.metric_set


@pytest.mark.parametrize(
    ("captured", "failures", "expected"),
    [
        (True, 0, {"CapturedRequests": [1.0]}),
        (False, 3, {"CaptureFailures": [3.0]}),
        (True, 2, {"CapturedRequests": [1.0], "CaptureFailures": [2.0]}),
        (False, 0, {}),
    ],
)
def test_capture_metrics_ride_on_the_predict_dimension_sets(
    captured: bool, failures: int, expected: dict[str, list[float]]
) -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship")

    record_prediction(metrics, "churn", PREDICTION)
    record_capture(metrics, captured, failures)

    document = metrics.serialize_metric_set()
    assert _dimension_sets(document) == [
        {"service": "predict", "Model": "churn", "ModelVersion": "v7"},
        {"service": "predict", "Model": "churn"},
    ]
    shown = {k: document[k] for k in ("CapturedRequests", "CaptureFailures") if k in document}
    assert shown == expected


def _classified(rows: int) -> Prediction:
    probabilities = [{"no": 1.0 - p, "yes": p} for p in (0.05 * (i % 20) for i in range(rows))]
    return Prediction(
        model_name="churn",
        model_version="v7",
        predictions=["yes" if row["yes"] > 0.5 else "no" for row in probabilities],
        classes=["no", "yes"],
        probability_rows=[[row["no"], row["yes"]] for row in probabilities],
        rows=rows,
        model_latency_ms=2.0,
        out_of_range_values=0,
        numeric_values=0,
    )


def test_a_classifier_records_the_top_probability_of_each_row_under_both_sets() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship")
    prediction = _classified(3)  # P(yes) 0.0, 0.05, 0.1: the top class is "no" each time

    record_prediction(metrics, "churn", prediction)

    document = metrics.serialize_metric_set()
    assert document["PredictionScore"] == [1.0, 0.95, 0.9]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert {"Name": "PredictionScore", "Unit": "None"} in directive["Metrics"]
    assert len(_dimension_sets(document)) == 2


def test_scores_are_sampled_from_the_first_rows_only() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship")
    prediction = _classified(45)
    assert prediction.probabilities is not None

    record_prediction(metrics, "churn", prediction)

    document = metrics.serialize_metric_set()
    expected = [max(row.values()) for row in prediction.probabilities[:20]]
    assert names.SCORE_SAMPLES_PER_REQUEST == 20
    assert document["PredictionScore"] == expected


def test_a_model_without_probabilities_records_no_scores() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship")

    record_prediction(metrics, "churn", PREDICTION)

    assert "PredictionScore" not in metrics.serialize_metric_set()
