"""Metrics the predict function emits (EMF through Powertools), per Model and ModelVersion.

Handled 4xx/5xx answers are not Lambda `Errors`, so the function counts its own: the
release guardrails alarm on PredictionErrors / Requests for the candidate's ModelVersion.
Every datum carries two dimension sets: {service, Model, ModelVersion}, which a canary's
alarms read (modelship.releases.canary_alarms), and {service, Model}, which the model's
static guardrail and drift alarms read. `Model` keeps two models of one deployment apart:
their ModelVersion values can be equal.

For classifiers, PredictionScore records the top class probability of each of the request's
first SCORE_SAMPLES_PER_REQUEST rows: the canary judge compares the two versions' score
distributions (modelship.releases.canary_window reads their percentile ranks). Powertools
keeps a metric added more than once as a list of values in one EMF document, which
CloudWatch Logs turns into one datum per value; EMF takes at most 100 values per metric and
document, and Powertools flushes a document when a metric reaches 100 values, so 20 per
request never splits one.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelship import names
from modelship.serving.http_errors import ErrorResponse
from modelship.serving.service import Prediction


class LogSink(Protocol):
    def warning(self, msg: str, *, extra: dict[str, Any]) -> Any: ...


class MetricsSink(Protocol):
    def add_dimension(self, name: str, value: str) -> None: ...

    def add_dimensions(self, **dimensions: str) -> None: ...

    def add_metric(self, name: str, unit: Any, value: float) -> None: ...

    def add_metadata(self, key: str, value: Any) -> None: ...


def predict_paths(model_name: str) -> tuple[str, str]:
    """The routes whose answers count as the model's requests."""
    return "/predict", f"{names.model_routes_prefix(model_name)}/predict"


def _dimensions(metrics: MetricsSink, model_name: str, model_version: str) -> None:
    # Named here, not left to POWERTOOLS_SERVICE_NAME: the alarms depend on the exact sets.
    metrics.add_dimension("service", names.PREDICT_SERVICE_NAME)
    metrics.add_dimension(names.METRIC_DIMENSION_MODEL, model_name)
    metrics.add_dimension(names.METRIC_DIMENSION_MODEL_VERSION, model_version)
    # A second set without ModelVersion: the model's alarms over all its versions read it.
    metrics.add_dimensions(
        **{"service": names.PREDICT_SERVICE_NAME, names.METRIC_DIMENSION_MODEL: model_name}
    )


def record_prediction(metrics: MetricsSink, model_name: str, prediction: Prediction) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    _dimensions(metrics, model_name, prediction.model_version)
    metrics.add_metric(names.METRIC_REQUESTS, MetricUnit.Count, 1)
    metrics.add_metric(names.METRIC_PREDICTIONS, MetricUnit.Count, prediction.rows)
    metrics.add_metric(names.METRIC_PREDICTION_ERRORS, MetricUnit.Count, 0)
    metrics.add_metric(names.METRIC_CLIENT_ERRORS, MetricUnit.Count, 0)
    metrics.add_metric(
        names.METRIC_MODEL_LATENCY, MetricUnit.Milliseconds, prediction.model_latency_ms
    )
    metrics.add_metric(
        names.METRIC_OUT_OF_RANGE_VALUES, MetricUnit.Count, prediction.out_of_range_values
    )
    metrics.add_metric(names.METRIC_NUMERIC_VALUES, MetricUnit.Count, prediction.numeric_values)
    for score in top_scores(prediction):
        metrics.add_metric(names.METRIC_PREDICTION_SCORE, MetricUnit.NoUnit, score)


def top_scores(prediction: Prediction) -> list[float]:
    """The top class probability of each of the first SCORE_SAMPLES_PER_REQUEST rows; none
    for a model that answers no probabilities (regression, predict-only models)."""
    if prediction.probability_rows is None:
        return []
    rows = prediction.probability_rows[: names.SCORE_SAMPLES_PER_REQUEST]
    return [max(row) for row in rows if row]


def record_capture(metrics: MetricsSink, captured: bool, failures: int) -> None:
    """Data capture beside the request's predict metrics (same dimension sets, so call it
    after record_prediction): CapturedRequests when this request was queued for capture,
    CaptureFailures for the records lost since the last request that reported them."""
    from aws_lambda_powertools.metrics import MetricUnit

    if captured:
        metrics.add_metric(names.METRIC_CAPTURED_REQUESTS, MetricUnit.Count, 1)
    if failures:
        metrics.add_metric(names.METRIC_CAPTURE_FAILURES, MetricUnit.Count, failures)


def record_failed_request(
    metrics: MetricsSink, model_name: str, model_version: str, status: int
) -> None:
    """A predict request answered with an error. 5xx counts against the model."""
    from aws_lambda_powertools.metrics import MetricUnit

    _dimensions(metrics, model_name, model_version)
    metrics.add_metric(names.METRIC_REQUESTS, MetricUnit.Count, 1)
    metrics.add_metric(names.METRIC_PREDICTION_ERRORS, MetricUnit.Count, 1 if status >= 500 else 0)
    metrics.add_metric(names.METRIC_CLIENT_ERRORS, MetricUnit.Count, 1 if status < 500 else 0)


def record_reason(metrics: MetricsSink, reason: str) -> None:
    """The answer's reason code (`ok` or the error code) on the request's EMF log line: not
    a dimension (no metric cost), but a field Logs Insights can filter and count by."""
    metrics.add_metadata("reason", reason)


def record_failure(
    logger: LogSink,
    metrics: MetricsSink,
    answer: ErrorResponse,
    *,
    path: str,
    model_name: str,
    model_version: str,
    detail: str,
) -> None:
    """One request answered with an error: a log line with its reason code, status and the
    operator-facing detail; for the model's predict routes also its metrics (5xx counts
    against the model). Another model's /models/<name>/predict is not this model's request."""
    reason = str(answer.body["error"]["code"])
    logger.warning(
        "request failed", extra={"reason": reason, "status": answer.status, "detail": detail}
    )
    if path in predict_paths(model_name):
        record_failed_request(metrics, model_name, model_version, answer.status)
        record_reason(metrics, reason)
