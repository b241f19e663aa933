"""The shadow side of a shadow release: a mirrored request (modelship.serving.shadow_mirror)
predicted again by this version's model and compared with the answer users got.

The result is metrics only, under the shadow's own ModelVersion (names.METRIC_SHADOW_*):
ShadowRequests, ShadowErrors, ShadowRows, ShadowAgreeingRows, ShadowScoreDiffSum,
ShadowScoreDiffMax and ShadowLatency. No alarm reads them, and a failure here is a
ShadowErrors datum, never a Lambda function error: asynchronous invocations that fail are
retried by Lambda, and a shadow must not count against anything live.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

from modelship import names
from modelship.errors import ModelshipError
from modelship.serving.observability import MetricsSink
from modelship.serving.service import Prediction, PredictionService
from modelship.serving.shadow_mirror import MirrorEvent

logger = logging.getLogger(__name__)

# Two regression outputs agree when they differ by at most this much of the served value
# (of 1 below 1): equal up to floating-point noise, not "close".
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Comparison:
    rows: int
    agreeing_rows: int
    score_diff_sum: float
    score_diff_max: float


def compare(served: Mapping[str, Any], shadow: Prediction) -> Comparison:
    """The shadow's answer against the served one, row by row.

    Classifiers (both answers carry probabilities): a row agrees when the labels are equal;
    its score difference is the largest absolute difference of one class's probability
    (a class only one side knows counts as probability 0 on the other). Otherwise: numeric
    outputs (regressors, one value or a list per row) agree within RELATIVE_TOLERANCE and
    differ by the largest absolute difference of one output; any other output agrees when
    equal and has no score difference."""
    served_rows = served.get("predictions")
    if not isinstance(served_rows, list):
        raise ValueError("the served answer has no predictions list")
    # Through JSON as the served answer went, so a label compares as it was sent.
    shadow_rows = json.loads(json.dumps(shadow.predictions))
    if len(served_rows) != len(shadow_rows):
        raise ValueError(
            f"the shadow answered {len(shadow_rows)} rows, the served answer has {len(served_rows)}"
        )
    served_proba = _probability_rows(served)
    shadow_proba = shadow.probabilities
    agreeing, diff_sum, diff_max = 0, 0.0, 0.0
    for index, (served_row, shadow_row) in enumerate(zip(served_rows, shadow_rows, strict=True)):
        if isinstance(served_proba, list) and shadow_proba is not None:
            agrees = served_row == shadow_row
            diff = _probability_diff(served_proba[index], shadow_proba[index])
        else:
            agrees, diff = _value_diff(served_row, shadow_row)
        agreeing += agrees
        diff_sum += diff
        diff_max = max(diff_max, diff)
    return Comparison(len(served_rows), agreeing, diff_sum, diff_max)


def _probability_rows(served: Mapping[str, Any]) -> Any:
    """The served answer's probabilities as one {class: probability} per row, whether it was
    a row answer or a columnar one (a matrix in the order of its `classes`)."""
    probabilities = served.get("probabilities")
    classes = served.get("classes")
    if not isinstance(classes, list) or not isinstance(probabilities, list):
        return probabilities
    return [dict(zip(classes, row, strict=True)) for row in probabilities]


def _probability_diff(served: Mapping[str, float], shadow: Mapping[str, float]) -> float:
    classes = set(served) | set(shadow)
    return max((abs(shadow.get(c, 0.0) - served.get(c, 0.0)) for c in classes), default=0.0)


def _numbers(value: Any) -> list[float] | None:
    """A row's numeric outputs (one number or a flat list of them); None if not numeric."""
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
        return None
    return [float(v) for v in values]


def _value_diff(served: Any, shadow: Any) -> tuple[bool, float]:
    served_values, shadow_values = _numbers(served), _numbers(shadow)
    if served_values is None or shadow_values is None or len(served_values) != len(shadow_values):
        return served == shadow, 0.0
    diffs = [abs(s - v) for s, v in zip(shadow_values, served_values, strict=True)]
    agrees = all(
        d <= RELATIVE_TOLERANCE * max(1.0, abs(v))
        for d, v in zip(diffs, served_values, strict=True)
    )
    return agrees, max(diffs, default=0.0)


def handle_mirror(
    event: Mapping[str, Any], service: PredictionService, metrics: MetricsSink
) -> dict[str, Any]:
    """One mirrored request: predict the same body, compare, record the Shadow* metrics.
    Returns a small summary; never raises."""
    model_name = service.settings.model_name
    try:
        mirror = MirrorEvent.model_validate(event[names.SHADOW_EVENT_KEY])
        if mirror.model != model_name:
            raise ValueError(f"a mirror of model {mirror.model[:64]!r} reached {model_name}")
        prediction = service.predict_body(mirror.body)
        comparison = compare(mirror.answer, prediction)
    except Exception as exc:
        reason = exc.reason if isinstance(exc, ModelshipError) else type(exc).__name__
        logger.warning("shadow prediction failed", extra={"reason": reason, "detail": str(exc)})
        _record(metrics, model_name, service.model_version, None, None)
        return {"shadow": "error", "reason": reason}
    _record(metrics, model_name, prediction.model_version, comparison, prediction)
    return {
        "shadow": "compared",
        "request_id": mirror.request_id,
        "served_model_version": mirror.served_model_version,
        "model_version": prediction.model_version,
        "rows": comparison.rows,
        "agreeing_rows": comparison.agreeing_rows,
    }


def _record(
    metrics: MetricsSink,
    model_name: str,
    model_version: str,
    comparison: Comparison | None,
    prediction: Prediction | None,
) -> None:
    """The Shadow* metrics under {service, Model, ModelVersion} only: the set without
    ModelVersion is what the model's static alarms read."""
    try:
        from aws_lambda_powertools.metrics import MetricUnit

        metrics.add_dimension("service", names.PREDICT_SERVICE_NAME)
        metrics.add_dimension(names.METRIC_DIMENSION_MODEL, model_name)
        metrics.add_dimension(names.METRIC_DIMENSION_MODEL_VERSION, model_version)
        metrics.add_metric(names.METRIC_SHADOW_REQUESTS, MetricUnit.Count, 1)
        metrics.add_metric(names.METRIC_SHADOW_ERRORS, MetricUnit.Count, 0 if comparison else 1)
        if comparison is None or prediction is None:
            return
        values: Sequence[tuple[str, Any, float]] = (
            (names.METRIC_SHADOW_ROWS, MetricUnit.Count, comparison.rows),
            (names.METRIC_SHADOW_AGREEING_ROWS, MetricUnit.Count, comparison.agreeing_rows),
            (names.METRIC_SHADOW_SCORE_DIFF_SUM, MetricUnit.NoUnit, comparison.score_diff_sum),
            (names.METRIC_SHADOW_SCORE_DIFF_MAX, MetricUnit.NoUnit, comparison.score_diff_max),
            (names.METRIC_SHADOW_LATENCY, MetricUnit.Milliseconds, prediction.model_latency_ms),
        )
        for name, unit, value in values:
            metrics.add_metric(name, unit, value)
    except Exception:  # a metric that cannot be recorded is a log line, not a retry
        logger.warning("shadow metrics not recorded", exc_info=True)
