"""/models/<name>/... routes of the predict handler and the one OpenAPI document that covers
every model of the deployment (DEPLOYMENT_MODELS)."""

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from openapi_spec_validator import validate

from modelship.sample_events import http_api_event, load_event
from tests.integration.conftest import Invoke
from tests.integration.openapi_contract import assert_documented

ROUTES = [
    ("POST", "/predict", "predict"),
    ("GET", "/health", "health"),
    ("GET", "/model/info", "info"),
    ("GET", "/openapi.json", "openapi.json"),
]
PREDICT_BODY = load_event("predict_valid")["body"]


def _body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def _event(method: str, path: str) -> dict[str, Any]:
    return http_api_event(method, path, PREDICT_BODY if method == "POST" else None, "req-route")


@pytest.fixture
def deployment(published: Any, start_function: Callable[..., Invoke]) -> Invoke:
    """churn's function in a deployment of three models, churn not the default."""
    return start_function(
        MODEL_SHA256=published.artifact.sha256, DEPLOYMENT_MODELS="ltv,churn,churn-forest"
    )


@pytest.mark.parametrize(("method", "legacy", "route"), ROUTES)
def test_the_own_models_routes_answer_as_the_single_model_routes(
    deployment: Invoke, method: str, legacy: str, route: str
) -> None:
    by_name = deployment(_event(method, f"/models/churn/{route}"))
    single = deployment(_event(method, legacy))

    assert by_name["statusCode"] == single["statusCode"] == 200
    assert _body(by_name) == _body(single)
    assert by_name["headers"]["X-Model-Version"] == "v1"


@pytest.mark.parametrize(("method", "legacy", "route"), ROUTES)
@pytest.mark.parametrize("name", ["churn-forest", "no-such-model", "CHURN", "churn.v2"])
def test_another_models_routes_answer_404_unknown_model_with_the_fixed_body(
    deployment: Invoke, method: str, legacy: str, route: str, name: str
) -> None:
    response = deployment(_event(method, f"/models/{name}/{route}"))

    assert response["statusCode"] == 404
    assert _body(response) == {
        "error": {
            "code": "unknown_model",
            "message": "This function serves no model of that name.",
        },
        "request_id": "req-route",
    }
    assert name not in response["body"]


def test_the_unknown_model_sample_event_is_a_404(function: Invoke) -> None:
    response = function(load_event("predict_unknown_model"))

    assert response["statusCode"] == 404
    assert _body(response)["error"]["code"] == "unknown_model"


def test_a_predict_on_the_model_route_is_counted_under_the_model_and_an_unknown_one_is_not(
    capsys: pytest.CaptureFixture[str], function: Invoke
) -> None:
    # The logger's stream was bound when the module loaded: swap it to read the log lines.
    handler = function.module.logger.registered_handler  # type: ignore[attr-defined]
    log, saved = io.StringIO(), handler.stream
    handler.stream = log
    capsys.readouterr()
    try:
        function(load_event("model_predict_valid"))
        function(load_event("predict_unknown_model"))
        function(http_api_event("POST", "/models/churn/predict", "{not json"))
    finally:
        handler.stream = saved

    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [(m["Model"], m["ModelVersion"], m["reason"]) for m in emf] == [
        ("churn", "v1", "ok"),
        ("churn", "v1", "malformed_json"),
    ]
    assert emf[1]["ClientErrors"] == [1.0]
    failures = [json.loads(line) for line in log.getvalue().splitlines()]
    assert [(f["reason"], f["status"]) for f in failures] == [
        ("unknown_model", 404),
        ("malformed_json", 400),
    ]


def test_one_document_covers_every_model_of_the_deployment(deployment: Invoke) -> None:
    document = _body(deployment(_event("GET", "/openapi.json")))

    validate(document)  # a valid OpenAPI document (unique operation ids, resolvable refs)
    assert list(document["paths"]) == [
        "/predict",
        "/health",
        "/model/info",
        "/openapi.json",
        *(f"/models/{m}/{r}" for m in ("ltv", "churn", "churn-forest") for _, _, r in ROUTES),
    ]
    assert not [p for p in document["paths"] if "{" in p]
    # Asked for on the model's own route: the same document.
    assert _body(deployment(_event("GET", "/models/churn/openapi.json"))) == document


def test_the_own_model_is_described_exactly_and_the_others_by_the_envelope(
    deployment: Invoke,
) -> None:
    document = _body(deployment(_event("GET", "/openapi.json")))
    paths, schemas = document["paths"], document["components"]["schemas"]

    def refs(schema: dict[str, Any], kind: str) -> tuple[str, ...]:
        return tuple(str(one["$ref"]).rsplit("/", 1)[-1] for one in schema[kind])

    def body_schema(path: str) -> tuple[str, ...]:
        content = paths[path]["post"]["requestBody"]["content"]["application/json"]
        return refs(content["schema"], "oneOf")

    def answer_schema(path: str, kind: str) -> tuple[str, ...]:
        content = paths[path]["post"]["responses"]["200"]["content"]["application/json"]
        return refs(content["schema"], kind)

    own = ("PredictRequest", "ColumnarPredictRequest")
    assert body_schema("/predict") == body_schema("/models/churn/predict") == own
    # A classifier's row and columnar answers differ (`classes`): exactly one matches.
    assert answer_schema("/models/churn/predict", "oneOf") == (
        "PredictResponse",
        "ColumnarPredictResponse",
    )
    assert schemas["PredictRequest"]["properties"]["instances"]["items"] == {
        "$ref": "#/components/schemas/Instance"
    }
    for other in ("ltv", "churn-forest"):
        path = f"/models/{other}/predict"
        assert body_schema(path) == ("GenericPredictRequest", "GenericColumnarPredictRequest")
        # Without the model's task, a row and a columnar answer may look alike: anyOf.
        assert answer_schema(path, "anyOf") == (
            "GenericPredictResponse",
            "GenericColumnarPredictResponse",
        )
        assert f"/models/{other}/openapi.json" in paths[path]["post"]["description"]
    generic = schemas["GenericPredictRequest"]["properties"]["instances"]
    assert generic["items"]["type"] == "object"
    assert "maxItems" not in generic  # another model's limit is its own
    assert "enum" not in json.dumps(schemas["GenericPredictResponse"])
    # Every /models/<name>/ operation documents unknown_model; the single-model ones do not.
    for path, operations in paths.items():
        for operation in operations.values():
            assert ("404" in operation["responses"]) is path.startswith("/models/"), path


def test_without_deployment_models_the_document_covers_the_own_model_only(
    function: Invoke,
) -> None:
    document = _body(function(load_event("openapi")))

    validate(document)
    assert [p for p in document["paths"] if p.startswith("/models/")] == [
        f"/models/churn/{r}" for _, _, r in ROUTES
    ]


@pytest.mark.parametrize(
    "event",
    [
        "model_predict_valid",
        "predict_missing_feature",
        "predict_malformed_json",
        "predict_too_many_rows",
        "predict_huge_number",
    ],
)
def test_every_answer_of_the_model_route_matches_the_document(
    deployment: Invoke, event: str
) -> None:
    request = load_event(event)
    request["rawPath"] = request["requestContext"]["http"]["path"] = "/models/churn/predict"
    document = _body(deployment(load_event("openapi")))

    assert_documented(document, "/models/churn/predict", "POST", deployment(request))


@pytest.mark.parametrize(("method", "legacy", "route"), ROUTES)
def test_the_answers_of_every_model_route_match_the_document(
    deployment: Invoke, method: str, legacy: str, route: str
) -> None:
    document = _body(deployment(load_event("openapi")))

    for name in ("churn", "churn-forest"):  # own answer, and the 404 of another model
        path = f"/models/{name}/{route}"
        assert_documented(document, path, method, deployment(_event(method, path)))


def test_an_unpinned_functions_model_routes_match_the_document(
    s3: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(MODEL_VERSION="", DEPLOYMENT_MODELS="churn,ltv")
    document = _body(function(_event("GET", "/models/churn/openapi.json")))

    for method, _, route in ROUTES[:2]:
        path = f"/models/churn/{route}"
        response = function(_event(method, path))
        assert response["statusCode"] == 503
        assert_documented(document, path, method, response)
