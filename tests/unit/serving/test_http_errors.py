import json

import pytest

from modelship.errors import (
    ConfigurationError,
    IncompatibleModel,
    IntegrityError,
    MalformedRequest,
    ModelNotFound,
    ModelshipError,
    ModelUnavailable,
    PayloadTooLarge,
    SchemaMismatch,
    UnknownModel,
)
from modelship.serving.http_errors import (
    ERROR_STATUSES,
    error_response,
    validation_error_response,
)

SECRET = "s3://internal-bucket/secret/path arn:aws:iam::123456789012:role/x"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (MalformedRequest(SECRET), 400, "malformed_json"),
        (PayloadTooLarge(SECRET, reason="too_many_rows"), 413, "too_many_rows"),
        (PayloadTooLarge(SECRET, reason="body_too_large"), 413, "body_too_large"),
        (SchemaMismatch(SECRET, [{"row": 0, "field": "a"}]), 422, "schema_mismatch"),
        (ModelUnavailable(SECRET, reason="no_model_pinned"), 503, "no_model_pinned"),
        (IntegrityError(SECRET, reason="sha256_mismatch"), 503, "sha256_mismatch"),
        (IncompatibleModel(SECRET, reason="incompatible_sklearn"), 503, "incompatible_sklearn"),
        (ModelNotFound(SECRET), 503, "model_not_found"),
        (ConfigurationError(SECRET), 503, "invalid_configuration"),
        (UnknownModel(SECRET), 404, "unknown_model"),
        (ModelshipError(SECRET), 500, "internal_error"),
    ],
)
def test_each_error_maps_to_a_fixed_status_and_code(
    error: ModelshipError, status: int, code: str
) -> None:
    answer = error_response(error, request_id="req-1")

    assert answer.status == status
    assert answer.body["error"]["code"] == code
    assert answer.body["request_id"] == "req-1"
    assert SECRET not in json.dumps(answer.body)


def test_schema_mismatch_carries_row_and_field_details() -> None:
    details = [{"row": 3, "field": "contract", "type": "missing", "message": "Field required"}]

    answer = error_response(SchemaMismatch("x", details))

    assert answer.body["error"]["details"] == details


def test_invalid_json_from_powertools_validation_is_a_400() -> None:
    errors = [{"type": "json_invalid", "loc": ("body", 17), "msg": "JSON decode error"}]

    answer = validation_error_response(errors)

    assert answer.status == 400
    assert answer.body["error"]["code"] == "malformed_json"


def test_wrong_envelope_is_a_422_naming_the_field() -> None:
    errors = [{"type": "missing", "loc": ("body", "instances"), "msg": "Field required"}]

    answer = validation_error_response(errors)

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["field"] == "instances"
    assert answer.is_server_error is False


def test_unknown_model_is_a_fixed_404_documented_only_on_model_routes() -> None:
    answer = error_response(UnknownModel("a route of model 'x' reached churn"), "req-9")

    assert answer.body == {
        "error": {
            "code": "unknown_model",
            "message": "This function serves no model of that name.",
        },
        "request_id": "req-9",
    }
    # /predict never answers it: the OpenAPI document lists 404 on /models/<name>/ routes only.
    assert 404 not in ERROR_STATUSES
