"""The shadow side: comparison maths for classifiers and regressors, the Shadow* metrics under
the shadow's own ModelVersion only, and a mirror that fails is a datum, never an exception."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from modelship import names
from modelship.errors import SchemaMismatch
from modelship.serving.service import Prediction
from modelship.serving.shadow import Comparison, compare, handle_mirror
from modelship.serving.shadow_mirror import MirrorEvent


def shadow_prediction(
    predictions: list[Any], probabilities: list[dict[str, float]] | None = None
) -> Prediction:
    return Prediction(
        model_name="churn",
        model_version="v4",
        predictions=predictions,
        classes=list(probabilities[0]) if probabilities else None,
        probability_rows=[list(row.values()) for row in probabilities] if probabilities else None,
        rows=len(predictions),
        model_latency_ms=2.5,
        out_of_range_values=0,
        numeric_values=0,
    )


def test_classifier_rows_agree_by_label_and_differ_by_the_largest_class_probability() -> None:
    served = {
        "predictions": ["yes", "no", "no"],
        "probabilities": [
            {"no": 0.2, "yes": 0.8},
            {"no": 0.6, "yes": 0.4},
            {"no": 0.9, "yes": 0.1},
        ],
    }
    shadow = shadow_prediction(
        ["yes", "yes", "no"],
        [{"no": 0.3, "yes": 0.7}, {"no": 0.45, "yes": 0.55}, {"no": 0.9, "yes": 0.1}],
    )

    result = compare(served, shadow)

    assert (result.rows, result.agreeing_rows) == (3, 2)
    assert result.score_diff_sum == pytest.approx(0.1 + 0.15 + 0.0)
    assert result.score_diff_max == pytest.approx(0.15)


def test_a_class_only_one_side_knows_counts_as_probability_zero_on_the_other() -> None:
    served = {"predictions": [0], "probabilities": [{"0": 0.7, "1": 0.3}]}
    shadow = shadow_prediction([0], [{"0": 0.6, "1": 0.2, "2": 0.2}])

    result = compare(served, shadow)

    assert result.agreeing_rows == 1
    assert result.score_diff_max == pytest.approx(0.2)


def test_integer_labels_compare_as_sent_through_json() -> None:
    served = {"predictions": [1, 0], "probabilities": [{"0": 0.1, "1": 0.9}] * 2}
    shadow = shadow_prediction([1, 1], [{"0": 0.1, "1": 0.9}] * 2)

    assert compare(served, shadow).agreeing_rows == 1


def test_regression_rows_agree_within_floating_point_noise_and_differ_by_the_absolute_error() -> (
    None
):
    served = {"predictions": [100.0, 0.5, 1e12, -3.0]}
    # 100 + 1e-8 is within 1e-9 * 100 = 1e-7; 0.5 + 2e-9 is beyond 1e-9 * max(1, 0.5);
    # 1e12 + 100 is within 1e-9 * 1e12 = 1000; -3 vs -1 is 2 apart.
    shadow = shadow_prediction([100.0 + 1e-8, 0.5 + 2e-9, 1e12 + 100, -1.0])

    result = compare(served, shadow)

    assert (result.rows, result.agreeing_rows) == (4, 2)
    assert result.score_diff_max == pytest.approx(100.0)
    assert result.score_diff_sum == pytest.approx(1e-8 + 2e-9 + 100 + 2.0)


def test_multi_output_regression_differs_by_its_largest_output_error() -> None:
    served = {"predictions": [[1.0, 2.0], [3.0, 4.0]]}
    shadow = shadow_prediction([[1.0, 2.5], [3.0, 4.0]])

    result = compare(served, shadow)

    assert result == Comparison(rows=2, agreeing_rows=1, score_diff_sum=0.5, score_diff_max=0.5)


def test_other_outputs_agree_when_equal_and_have_no_score_difference() -> None:
    served = {"predictions": ["a", True, None]}
    shadow = shadow_prediction(["a", False, None])

    assert compare(served, shadow) == Comparison(3, 2, 0.0, 0.0)


def test_answers_of_different_lengths_or_without_predictions_are_refused() -> None:
    with pytest.raises(ValueError, match="shadow answered 1 rows, the served answer has 2"):
        compare({"predictions": [1.0, 2.0]}, shadow_prediction([1.0]))
    with pytest.raises(ValueError, match="no predictions list"):
        compare({"predictions": "1.0"}, shadow_prediction([1.0]))


class StubService:
    """What handle_mirror uses of PredictionService."""

    def __init__(self, answer: Prediction | Exception) -> None:
        self.settings = SimpleNamespace(model_name="churn")
        self.model_version = "v4"
        self.answer = answer
        self.bodies: list[str | bytes] = []

    def predict_body(self, body: str | bytes) -> Prediction:
        self.bodies.append(body)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def mirror_event(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "model": "churn",
        "request_id": "req-1",
        "served_model_version": "v3",
        "served_latency_ms": 3.2,
        "sent_at": datetime(2026, 11, 28, 10, tzinfo=UTC),
        "body": '{"instances":[{"tenure":3},{"tenure":4}]}',
        "answer": {
            "model_name": "churn",
            "model_version": "v3",
            "predictions": [1, 0],
            "probabilities": [{"0": 0.2, "1": 0.8}, {"0": 0.7, "1": 0.3}],
        },
        **changes,
    }
    return MirrorEvent(**fields).event()


def metrics_of(provider: AmazonCloudWatchEMFProvider) -> tuple[list[dict[str, str]], dict]:
    document = provider.serialize_metric_set()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    sets = [{name: document[name] for name in names_} for names_ in directive["Dimensions"]]
    values = {m["Name"]: document[m["Name"]] for m in directive["Metrics"]}
    return sets, values


def test_a_mirror_is_predicted_again_compared_and_recorded_under_the_shadow_version() -> None:
    service = StubService(shadow_prediction([1, 1], [{"0": 0.25, "1": 0.75}, {"0": 0.4, "1": 0.6}]))
    provider = AmazonCloudWatchEMFProvider(namespace="modelship", service="something-else")

    summary = handle_mirror(mirror_event(), service, provider)  # type: ignore[arg-type]

    assert service.bodies == ['{"instances":[{"tenure":3},{"tenure":4}]}']
    assert summary["shadow"] == "compared"
    assert (summary["rows"], summary["agreeing_rows"]) == (2, 1)
    sets, values = metrics_of(provider)
    # One set: the model's static alarms read {service, Model} and must not see shadows.
    assert sets == [{"service": "predict", "Model": "churn", "ModelVersion": "v4"}]
    assert values[names.METRIC_SHADOW_REQUESTS] == [1.0]
    assert values[names.METRIC_SHADOW_ERRORS] == [0.0]
    assert values[names.METRIC_SHADOW_ROWS] == [2.0]
    assert values[names.METRIC_SHADOW_AGREEING_ROWS] == [1.0]
    assert values[names.METRIC_SHADOW_SCORE_DIFF_SUM][0] == pytest.approx(0.05 + 0.3)
    assert values[names.METRIC_SHADOW_SCORE_DIFF_MAX][0] == pytest.approx(0.3)
    assert values[names.METRIC_SHADOW_LATENCY] == [2.5]
    assert not set(values) & {names.METRIC_REQUESTS, names.METRIC_PREDICTION_ERRORS}


@pytest.mark.parametrize(
    ("event", "answer", "reason"),
    [
        # The shadow's schema refuses what stable answered.
        (mirror_event(), SchemaMismatch("row 0: tenure", []), "schema_mismatch"),
        # A fault of the shadow's model or of this code.
        (mirror_event(), RuntimeError("boom"), "RuntimeError"),
        # Not a mirror of this format, or another model's.
        ({names.SHADOW_EVENT_KEY: {"model": "churn"}}, None, "ValidationError"),
        (mirror_event(model="fraud"), None, "ValueError"),
        # Answers that cannot be compared.
        (mirror_event(), shadow_prediction([1]), "ValueError"),
    ],
)
def test_a_failed_mirror_is_a_shadow_error_datum_and_never_raised(
    event: dict[str, Any], answer: Prediction | Exception | None, reason: str
) -> None:
    service = StubService(answer if answer is not None else RuntimeError("not reached"))
    provider = AmazonCloudWatchEMFProvider(namespace="modelship", service="predict")

    summary = handle_mirror(event, service, provider)  # type: ignore[arg-type]

    assert summary == {"shadow": "error", "reason": reason}
    sets, values = metrics_of(provider)
    assert sets == [{"service": "predict", "Model": "churn", "ModelVersion": "v4"}]
    assert values == {names.METRIC_SHADOW_REQUESTS: [1.0], names.METRIC_SHADOW_ERRORS: [1.0]}


def test_metrics_that_cannot_be_recorded_do_not_fail_the_mirror() -> None:
    class BrokenMetrics:
        def add_dimension(self, name: str, value: str) -> None:
            raise RuntimeError("metrics backend down")

    service = StubService(shadow_prediction([1, 0], [{"0": 0.2, "1": 0.8}, {"0": 0.7, "1": 0.3}]))

    summary = handle_mirror(mirror_event(), service, BrokenMetrics())  # type: ignore[arg-type]

    assert (summary["shadow"], summary["agreeing_rows"]) == ("compared", 2)
