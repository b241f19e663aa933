"""Bodies a client controls never crash the predict handler: each gets a typed 4xx."""

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import pytest

from modelship.sample_events import http_api_event, load_event
from modelship.serving.http_errors import ERROR_STATUSES
from tests.integration.conftest import Invoke
from tests.integration.openapi_contract import assert_documented

ROW = json.loads(load_event("predict_valid")["body"])["instances"][0]


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def _predict(body: str) -> dict[str, Any]:
    return http_api_event("POST", "/predict", body)


def test_a_value_that_overflows_the_scaler_is_422_naming_row_and_field(function: Invoke) -> None:
    # senior_citizen's training scale is below 1: 1e308 / scale overflows to infinity.
    response = function(load_event("predict_huge_number"))

    body = _body(response)
    assert response["statusCode"] == 422
    assert body["error"]["code"] == "unscorable_input"
    assert body["error"]["details"] == [
        {
            "row": 1,
            "field": "senior_citizen",
            "type": "not_finite_after_transform",
            "message": "The model's preprocessing turns this value into a non-finite number.",
        }
    ]


@pytest.mark.parametrize("value", [1e308, -1e308, 1.7976931348623157e308])
def test_every_extreme_finite_number_in_every_numeric_field_is_answered(
    function: Invoke, value: float
) -> None:
    numeric = [name for name, v in ROW.items() if isinstance(v, int | float)]
    for name in numeric:
        response = function(_predict(json.dumps({"instances": [{**ROW, name: value}]})))

        assert response["statusCode"] in {200, 422}, (name, response)
        if response["statusCode"] == 422:
            assert _body(response)["error"]["details"][0]["field"] == name


def test_an_estimator_that_raises_on_client_rows_answers_422_naming_the_row(
    function: Invoke,
) -> None:
    class RefusingEstimator:
        """Scores what training saw; refuses a tenure no training row had."""

        classes_ = (0, 1)

        def predict_proba(self, matrix: Any) -> Any:
            import numpy as np

            if any(isinstance(v, int | float) and v == 77777 for v in np.ravel(matrix)):
                raise ValueError("refused")
            return np.tile([0.5, 0.5], (len(matrix), 1))

    loaded = function.module.service.model()  # type: ignore[attr-defined]
    object.__setattr__(loaded, "estimator", RefusingEstimator())

    rows = [ROW, {**ROW, "tenure_months": 77777}, ROW]
    response = function(_predict(json.dumps({"instances": rows})))

    body = _body(response)
    assert response["statusCode"] == 422
    assert body["error"]["code"] == "unscorable_input"
    assert [d["row"] for d in body["error"]["details"]] == [1]
    assert "refused" not in response["body"]


def test_a_model_that_fails_on_values_it_was_trained_on_is_the_releases_fault(
    function: Invoke,
) -> None:
    # A broken release (a pickle at odds with the runtime, say) raises on every row: that is a
    # 5xx the guardrails count, not a 422 that would let the canary pass.
    class BrokenEstimator:
        classes_ = (0, 1)

        def predict_proba(self, matrix: Any) -> Any:
            raise AttributeError("'LogisticRegression' object has no attribute 'multi_class'")

    loaded = function.module.service.model()  # type: ignore[attr-defined]
    object.__setattr__(loaded, "estimator", BrokenEstimator())

    response = function(_predict(json.dumps({"instances": [ROW, ROW]})))

    assert response["statusCode"] == 503
    assert _body(response)["error"]["code"] == "model_error"
    assert "multi_class" not in response["body"]


def test_the_search_for_unscorable_rows_is_bounded_whatever_the_request_size() -> None:
    import numpy as np

    from modelship.registry.manifest import FeatureSpec
    from modelship.serving.schema import RowSchema
    from modelship.serving.unscorable import MAX_SINGLE_ROW_CALLS, locate_unscorable

    class LastRowRefused:
        calls = 0

        def predict(self, matrix: Any) -> Any:
            LastRowRefused.calls += 1
            if (np.asarray(matrix, dtype=float) < 0).any():
                raise ValueError("refused")
            return np.zeros(len(matrix))

    matrix = np.zeros((5 * MAX_SINGLE_ROW_CALLS, 1), dtype=object)
    matrix[-1, 0] = -1.0

    estimator = LastRowRefused()
    schema = RowSchema([FeatureSpec(name="x", kind="numeric", dtype="float")])
    details = locate_unscorable(estimator, estimator.predict, schema, matrix)

    assert LastRowRefused.calls <= MAX_SINGLE_ROW_CALLS
    assert details == [
        {"row": None, "field": None, "type": "not_scorable", "message": details[0]["message"]}
    ]


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        ("predict_base64_invalid", 400, "invalid_base64"),
        ("predict_base64_binary", 400, "body_not_utf8"),
    ],
)
def test_undecodable_base64_bodies_are_400_naming_the_problem(
    function: Invoke, event: str, status: int, code: str
) -> None:
    response = function(load_event(event))

    assert response["statusCode"] == status
    assert _body(response)["error"]["code"] == code


def test_a_base64_encoded_json_body_is_served(function: Invoke) -> None:
    # What API Gateway sends for `curl -d` (application/x-www-form-urlencoded).
    response = function(load_event("predict_base64_form"))

    assert response["statusCode"] == 200
    assert _body(response)["model_version"] == "v1"


def test_base64_body_over_the_size_limit_is_413(
    published: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(MAX_BODY_BYTES="1024")
    event = load_event("predict_base64_form")
    event["body"] = base64.b64encode(json.dumps({"instances": [ROW] * 20}).encode()).decode()

    response = function(event)

    assert response["statusCode"] == 413
    assert _body(response)["error"]["code"] == "body_too_large"


def test_duplicate_and_unknown_keys_are_422_naming_the_unknown_field(function: Invoke) -> None:
    response = function(load_event("predict_duplicate_keys"))

    body = _body(response)
    assert response["statusCode"] == 422
    assert {(d["row"], d["field"], d["type"]) for d in body["error"]["details"]} == {
        (0, "coupon", "extra_forbidden")
    }


def test_a_body_with_more_fields_than_any_valid_request_is_413_before_parsing(
    function: Invoke,
) -> None:
    response = function(load_event("predict_too_many_fields"))

    assert response["statusCode"] == 413
    assert _body(response)["error"]["code"] == "too_many_fields"


def test_the_field_budget_admits_the_largest_valid_request(
    published: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(MAX_ROWS="50")
    features = function.module.service.model().manifest.features  # type: ignore[attr-defined]
    longest = {
        f.name: max(f.categories, key=len) if f.categories else ROW[f.name] for f in features
    }

    response = function(_predict(json.dumps({"instances": [longest] * 50}, indent=4)))

    assert response["statusCode"] == 200


def test_error_details_are_capped_and_never_echo_long_keys(function: Invoke) -> None:
    long_keys = {f"{i}{'k' * 5000}": 1 for i in range(100)}

    response = function(_predict(json.dumps({"instances": [{**ROW, **long_keys}]})))

    details = _body(response)["error"]["details"]
    assert response["statusCode"] == 422
    assert len(details) == 50
    assert all(len(d["field"]) <= 100 for d in details)
    assert len(response["body"]) < 20_000


def test_an_unexpected_fault_is_a_typed_500_not_a_function_error(function: Invoke) -> None:
    def broken(*_: Any) -> Any:
        raise RuntimeError("bug")

    function.module.service.predict_body = broken  # type: ignore[attr-defined]

    response = function(load_event("predict_valid"))

    assert response["statusCode"] == 500
    assert _body(response)["error"]["code"] == "internal_error"
    assert "bug" not in response["body"]


def test_failure_log_lines_carry_model_version_and_reason(
    capsys: pytest.CaptureFixture[str], function: Invoke
) -> None:
    # The handler's stream was bound when the module loaded (possibly to an earlier test's
    # capture, since closed): swap it without flushing the old one.
    handler = function.module.logger.registered_handler  # type: ignore[attr-defined]
    log, saved = io.StringIO(), handler.stream
    handler.stream = log
    capsys.readouterr()
    try:
        function(load_event("predict_missing_feature"))
        function(load_event("predict_malformed_json"))
        function(load_event("predict_valid"))
    finally:
        handler.stream = saved

    failures = [json.loads(line) for line in log.getvalue().splitlines()]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(f["model_version"], f["reason"], f["status"]) for f in failures] == [
        ("v1", "schema_mismatch", 422),
        ("v1", "malformed_json", 400),
    ]
    # The EMF line of every request, success included, names the version and the reason.
    metric_lines = [line for line in lines if "_aws" in line]
    assert [(m["ModelVersion"], m["reason"]) for m in metric_lines] == [
        ("v1", "schema_mismatch"),
        ("v1", "malformed_json"),
        ("v1", "ok"),
    ]


def test_openapi_documents_every_status_the_predict_handler_returns_with_its_body(
    function: Invoke,
) -> None:
    document = _body(function(load_event("openapi")))
    responses = document["paths"]["/predict"]["post"]["responses"]

    assert set(responses) == {"200", *(str(s) for s in ERROR_STATUSES)}
    assert {"400", "413", "422", "500", "503"} <= set(responses)
    for status, response in responses.items():
        schema = response["content"]["application/json"]["schema"]
        assert schema.get("$ref") or schema.get("oneOf"), status
    # The model's own route answers the same, and 404 `unknown_model` for another model's name.
    by_name = document["paths"]["/models/churn/predict"]["post"]["responses"]
    assert set(by_name) == {*responses, "404"}


@pytest.mark.parametrize(
    "event",
    [
        "predict_valid",
        "predict_batch",
        "predict_malformed_json",
        "predict_base64_invalid",
        "predict_too_many_rows",
        "predict_too_many_fields",
        "predict_missing_feature",
        "predict_huge_number",
        "predict_columnar",
        "predict_columnar_unequal_lengths",
        "predict_columnar_unknown_category",
    ],
)
def test_every_predict_answer_matches_the_openapi_document(function: Invoke, event: str) -> None:
    document = _body(function(load_event("openapi")))

    assert_documented(document, "/predict", "POST", function(load_event(event)))


def test_a_503_answer_matches_the_openapi_document(
    s3: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(MODEL_VERSION="")  # nothing pinned: 503

    document = _body(function(load_event("openapi")))

    assert_documented(document, "/predict", "POST", function(load_event("predict_valid")))
    assert_documented(document, "/health", "GET", function(load_event("health")))


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("GET", "/predict")])
def test_an_unrouted_request_is_404_and_not_counted_against_the_model(
    capsys: pytest.CaptureFixture[str], function: Invoke, method: str, path: str
) -> None:
    capsys.readouterr()

    response = function(http_api_event(method, path))

    assert response["statusCode"] == 404
    assert _body(response) == {"message": "Not Found"}
    assert '"PredictionErrors"' not in capsys.readouterr().out
