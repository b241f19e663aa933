"""The real predict handler, loaded the way Lambda loads it, against moto S3."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from modelship.registry.registry import artifact_key
from modelship.sample_events import http_api_event, load_event
from tests.conftest import BUCKET
from tests.integration.conftest import Invoke


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def test_valid_prediction_names_the_model_and_matches_the_pipeline(
    function: Invoke, reference_model_dir: Path
) -> None:
    event = load_event("predict_valid")
    row = json.loads(event["body"])["instances"][0]

    response = function(event)

    body = _body(response)
    assert response["statusCode"] == 200
    assert response["headers"]["X-Model-Version"] == "v1"
    assert (body["model_name"], body["model_version"]) == ("churn", "v1")
    pipeline = joblib.load(reference_model_dir / "model.joblib")
    expected = pipeline.predict_proba(np.array([list(row.values())], dtype=object))[0]
    # Not rounded: the answer carries predict_proba's own floats through JSON.
    assert body["probabilities"][0] == {"0": expected[0], "1": expected[1]}
    assert body["predictions"] == [int(expected.argmax())]


def test_batch_returns_one_prediction_per_row(function: Invoke) -> None:
    response = function(load_event("predict_batch"))

    body = _body(response)
    assert response["statusCode"] == 200
    assert len(body["predictions"]) == len(body["probabilities"]) == 5
    assert all(abs(sum(p.values()) - 1) < 1e-12 for p in body["probabilities"])


@pytest.mark.parametrize(
    ("event", "status", "code", "row", "field"),
    [
        ("predict_missing_feature", 422, "schema_mismatch", 1, "tenure_months"),
        ("predict_wrong_type", 422, "schema_mismatch", 0, "monthly_charges"),
        ("predict_unknown_category", 422, "schema_mismatch", 0, "contract"),
    ],
)
def test_schema_violations_are_422_naming_row_and_field(
    function: Invoke, event: str, status: int, code: str, row: int, field: str
) -> None:
    response = function(load_event(event))

    body = _body(response)
    assert response["statusCode"] == status
    assert body["error"]["code"] == code
    assert body["error"]["details"][0]["row"] == row
    assert body["error"]["details"][0]["field"] == field


def test_malformed_json_is_400(function: Invoke) -> None:
    response = function(load_event("predict_malformed_json"))

    assert response["statusCode"] == 400
    assert _body(response)["error"]["code"] == "malformed_json"


def test_too_many_rows_is_413(function: Invoke) -> None:
    response = function(load_event("predict_too_many_rows"))

    assert response["statusCode"] == 413
    assert _body(response)["error"]["code"] == "too_many_rows"


def test_row_limit_is_configurable(published: Any, start_function: Callable[..., Invoke]) -> None:
    function = start_function(MAX_ROWS="3")

    response = function(load_event("predict_batch"))

    assert response["statusCode"] == 413


def test_oversized_body_is_413(published: Any, start_function: Callable[..., Invoke]) -> None:
    function = start_function(MAX_BODY_BYTES="1024")

    response = function(load_event("predict_batch"))

    assert response["statusCode"] == 413
    assert _body(response)["error"]["code"] == "body_too_large"


def test_missing_instances_is_422(function: Invoke) -> None:
    response = function(http_api_event("POST", "/predict", json.dumps({"rows": []})))

    assert response["statusCode"] == 422
    assert _body(response)["error"]["details"][0]["field"] == "instances"


def test_health_and_model_info(function: Invoke) -> None:
    health = function(load_event("health"))
    info = function(load_event("model_info"))

    assert health["statusCode"] == 200
    assert _body(health)["status"] == "ok"
    assert _body(health)["load_source"] == "s3"
    assert info["statusCode"] == 200
    assert _body(info)["version"] == "v1"
    assert _body(info)["metrics"]["roc_auc"] >= 0.85
    assert [f["name"] for f in _body(info)["features"]][:2] == ["tenure_months", "monthly_charges"]


def test_openapi_document_carries_the_models_row_schema(function: Invoke) -> None:
    response = function(load_event("openapi"))

    document = _body(response)
    assert response["statusCode"] == 200
    assert set(document["paths"]) >= {"/predict", "/health", "/model/info"}
    instance = document["components"]["schemas"]["Instance"]
    assert instance["properties"]["contract"]["enum"] == ["month_to_month", "one_year", "two_year"]
    instances = document["components"]["schemas"]["PredictRequest"]["properties"]["instances"]
    assert instances["maxItems"] == 1000


def test_corrupted_artifact_answers_503_with_its_reason_and_is_never_loaded(
    s3: Any, published: Any, start_function: Callable[..., Invoke], tmp_path: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"), Body=b"\x80\x04corrupt")

    function = start_function()

    health = function(load_event("health"))
    predict = function(load_event("predict_valid"))
    assert health["statusCode"] == 503
    assert _body(health)["reason"] == "truncated_artifact"
    assert predict["statusCode"] == 503
    assert _body(predict)["error"]["code"] == "truncated_artifact"
    assert "corrupt" not in predict["body"]
    assert not [p for p in (tmp_path / "tmp-cache").rglob("*") if p.is_file()]


def test_failed_init_load_is_retried_by_the_next_request(
    s3: Any, reference_model_dir: Path, start_function: Callable[..., Invoke]
) -> None:
    from modelship.registry.registry import Registry

    function = start_function()  # nothing published yet: init load fails
    assert function(load_event("health"))["statusCode"] == 503

    Registry(s3, BUCKET).publish(reference_model_dir)

    assert function(load_event("predict_valid"))["statusCode"] == 200


def test_unpinned_function_answers_503_no_model_pinned(
    s3: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(MODEL_VERSION="")

    response = function(load_event("predict_valid"))

    assert response["statusCode"] == 503
    assert _body(response)["error"]["code"] == "no_model_pinned"
    assert response["headers"]["X-Model-Version"] == "unpinned"


def test_metrics_are_emitted_per_model_and_model_version(
    capsys: pytest.CaptureFixture[str], function: Invoke
) -> None:
    capsys.readouterr()
    answer = _body(function(load_event("predict_batch")))
    function(load_event("predict_missing_feature"))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(blobs) == 2
    ok, failed = blobs
    for blob in blobs:
        directive = blob["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "modelship"
        # The canary alarms' set, and the model-wide set of the static and drift alarms; no
        # set without Model, which would mix the deployment's models.
        assert sorted(sorted(d) for d in directive["Dimensions"]) == [
            ["Model", "ModelVersion", "service"],
            ["Model", "service"],
        ]
        assert (blob["service"], blob["Model"], blob["ModelVersion"]) == ("predict", "churn", "v1")
    assert (ok["Predictions"], ok["PredictionErrors"]) == ([5.0], [0.0])
    assert ok["ModelLatency"][0] > 0
    assert ok["NumericValues"] == [30.0]  # 5 rows x 6 numeric features
    assert ok["OutOfRangeValues"][0] >= 0
    assert (failed["ClientErrors"], failed["PredictionErrors"]) == ([1.0], [0.0])
    # a classifier's answer also records each row's top class probability; a failure none
    assert ok["PredictionScore"] == [max(row.values()) for row in answer["probabilities"]]
    assert "PredictionScore" not in failed


def test_logs_carry_the_request_correlation_id(function: Invoke) -> None:
    function(load_event("predict_missing_feature"))

    assert function.module.logger.get_correlation_id() == "req-missing-feature"  # type: ignore[attr-defined]


def test_tracing_is_off_in_tests_even_for_a_sampled_invocation(
    function: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The suite sets POWERTOOLS_TRACE_DISABLED, as the emulator does: no X-Ray SDK is built.
    monkeypatch.setenv(
        "_X_AMZN_TRACE_ID",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )

    response = function(load_event("predict_valid"))

    tracer = function.module.tracer  # type: ignore[attr-defined]
    assert response["statusCode"] == 200
    assert (tracer.enabled, tracer.built) == (False, False)


def test_every_sample_event_gets_its_expected_status(function: Invoke) -> None:
    expected = {
        "predict_valid": 200,
        "predict_batch": 200,
        "predict_missing_feature": 422,
        "predict_wrong_type": 422,
        "predict_unknown_category": 422,
        "predict_malformed_json": 400,
        "predict_too_many_rows": 413,
        "predict_too_many_fields": 413,
        "predict_duplicate_keys": 422,
        "predict_huge_number": 422,
        "predict_base64_invalid": 400,
        "predict_base64_binary": 400,
        "predict_base64_form": 200,
        "health": 200,
        "model_info": 200,
        "openapi": 200,
        "model_predict_valid": 200,
        "predict_unknown_model": 404,
        "predict_columnar": 200,
        "predict_columnar_unequal_lengths": 422,
        "predict_columnar_unknown_category": 422,
    }
    # Every API Gateway sample event in events/ must be covered by this table.
    api_events = {
        path.stem
        for path in Path("events").glob("*.json")
        if "routeKey" in json.loads(path.read_text())
    }

    statuses = {name: function(load_event(name))["statusCode"] for name in sorted(api_events)}

    assert statuses == expected
