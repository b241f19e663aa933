"""The request model of POST /predict and the OpenAPI document with the model's row schema
and the shape of its answers (class labels and probabilities, or values)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from modelship.errors import ModelshipError
from modelship.serving.http_errors import ERROR_STATUSES
from modelship.serving.schema import MAX_DETAILS
from modelship.serving.service import PredictionService


class PredictRequest(BaseModel):
    """Rows are checked against the model's feature schema after this envelope."""

    model_config = ConfigDict(extra="forbid")

    instances: list[dict[str, Any]] = Field(min_length=1)


class ErrorDetail(BaseModel):
    """One violation: the row index and field name where they can be identified."""

    row: int | None
    field: str | None
    type: str
    message: str


class ErrorBody(BaseModel):
    code: str = Field(description="Stable reason code to branch on.")
    message: str
    details: list[ErrorDetail] | None = Field(
        default=None, max_length=MAX_DETAILS, description="422 answers only."
    )


class ErrorResponse(BaseModel):
    error: ErrorBody
    request_id: str | None = None


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = Field(
        default=None, description="Classifiers only: one probability per class and row."
    )


class HealthResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    status: str = Field(description="`ok` or `unavailable`.")
    model_name: str
    model_version: str
    reason: str | None = None
    load_source: str | None = None
    load_seconds: float | None = None


_ERROR_DESCRIPTIONS = {
    400: "`malformed_json`: the body is not JSON. `invalid_base64`, `body_not_utf8`: a "
    "base64 body (API Gateway encodes bodies whose content type is not text) that is not "
    "base64 of UTF-8 text.",
    413: "`body_too_large`: more bytes than `limits.max_body_bytes`; `too_many_rows`: more "
    "rows than `limits.max_rows`; `too_many_fields`: more keys and values (commas) than "
    "twice `limits.max_rows` valid rows hold (refused before parsing).",
    422: "`schema_mismatch`: rows that do not match the model's schema; `unscorable_input`: "
    "values the schema allows but the model cannot score (e.g. a huge number its scaler "
    f"overflows). `details` name row and field, at most {MAX_DETAILS}.",
    500: "`internal_error`: a fault of the service, not of the request.",
    503: "The model cannot be served; `code` says why (`no_model_pinned`, `model_not_found`, "
    "`sha256_mismatch`, `model_error` for a model that fails on values it was trained on, "
    "...).",
}


def _json_content(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _ERROR_DESCRIPTIONS[status], "content": _json_content("ErrorResponse")}


def _describe_output(response: dict[str, Any], service: PredictionService) -> None:
    """PredictResponse as this model answers: its class labels, or its values."""
    output = service.output()
    properties = response["properties"]
    properties["predictions"] = output.predictions_schema()
    probabilities = output.probabilities_schema()
    if probabilities is None:
        properties.pop("probabilities", None)
    else:
        properties["probabilities"] = probabilities
        response["required"] = sorted({*response.get("required", ()), "probabilities"})
    response["additionalProperties"] = False


def openapi_document(app: Any, service: PredictionService) -> dict[str, Any]:
    """Powertools' generated document, with `instances` items replaced by the pinned model's
    row schema (when the model is loaded) so clients see the real feature contract."""
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="modelship predict API",
            version=service.model_version,
            description="Predictions from a scikit-learn model pinned to this Lambda version.",
        )
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    request = TypeAdapter(PredictRequest).json_schema()
    instances = request["properties"]["instances"]
    instances["maxItems"] = service.settings.max_rows
    try:
        loaded = service.model()
    except ModelshipError:
        loaded = None
    if loaded is not None:
        schemas["Instance"] = loaded.schema.json_schema()
        instances["items"] = {"$ref": "#/components/schemas/Instance"}
    schemas["PredictRequest"] = request
    for model in (ErrorDetail, ErrorBody, ErrorResponse, PredictResponse, HealthResponse):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        schemas[model.__name__] = model_schema
    if loaded is not None:
        _describe_output(schemas["PredictResponse"], service)
    paths = document.get("paths", {})
    operation = paths.get("/predict", {}).get("post")
    if operation is not None:
        operation["requestBody"] = {
            "required": True,
            "content": _json_content("PredictRequest"),
        }
        operation["responses"] = {
            "200": {"description": "Predictions.", "content": _json_content("PredictResponse")},
            **{str(status): _error_response(status) for status in ERROR_STATUSES},
        }
    health = paths.get("/health", {}).get("get")
    if health is not None:
        health["responses"] = {
            "200": {
                "description": "The model is loaded.",
                "content": _json_content("HealthResponse"),
            },
            "503": {
                "description": "The model cannot be served; `reason` says why.",
                "content": _json_content("HealthResponse"),
            },
        }
    info = paths.get("/model/info", {}).get("get")
    if info is not None:
        info["responses"] = {
            "200": {
                "description": "The pinned model's manifest.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            **{str(status): _error_response(status) for status in (500, 503)},
        }
    return document
