"""The request model of POST /predict and the OpenAPI document: one document for every model
of the deployment. The function's own model is described exactly (its row schema and the shape
of its answers: class labels and probabilities, or values) on the single-model routes and on
/models/<own>/...; another model's /models/<name>/... routes get the generic envelope and point
at that model's own document, which its function serves."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from modelship import names
from modelship.errors import ModelshipError
from modelship.serving.http_errors import ERROR_STATUSES, UNKNOWN_MODEL_STATUS
from modelship.serving.schema import MAX_DETAILS
from modelship.serving.service import PredictionService


class PredictRequest(BaseModel):
    """Rows are checked against the model's feature schema after this envelope."""

    model_config = ConfigDict(extra="forbid")

    instances: list[dict[str, Any]] = Field(min_length=1)


class ColumnarPredictRequest(BaseModel):
    """One array per feature, all of one length; checked against the model's feature schema
    after this envelope. Answered in columns (ColumnarPredictResponse)."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, list[Any]] = Field(min_length=1)


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


class ColumnarPredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    predictions: list[Any]
    classes: list[str] | None = Field(
        default=None, description="Classifiers only: the class labels, in the estimator's order."
    )
    probabilities: list[list[float]] | None = Field(
        default=None,
        description="Classifiers only: one row per prediction, one probability per class in "
        "the order of `classes`.",
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
    UNKNOWN_MODEL_STATUS: "`unknown_model`: the route names a model this function does not "
    "serve (each model's /models/<name>/ routes reach that model's own function).",
    500: "`internal_error`: a fault of the service, not of the request.",
    503: "The model cannot be served; `code` says why (`no_model_pinned`, `model_not_found`, "
    "`sha256_mismatch`, `model_error` for a model that fails on values it was trained on, "
    "...).",
}


def _json_content(schema_name: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}}


def _error_response(status: int) -> dict[str, Any]:
    return {"description": _ERROR_DESCRIPTIONS[status], "content": _json_content("ErrorResponse")}


def _describe_output(
    response: dict[str, Any], columnar: dict[str, Any], service: PredictionService
) -> bool:
    """PredictResponse and ColumnarPredictResponse as this model answers: its class labels
    and probabilities, or its values. True when the two answers cannot be told apart (no
    probabilities: both are the predictions alone)."""
    output = service.output()
    properties = response["properties"]
    properties["predictions"] = output.predictions_schema()
    columnar["properties"]["predictions"] = output.predictions_schema()
    probabilities = output.probabilities_schema()
    if probabilities is None:
        properties.pop("probabilities", None)
    else:
        properties["probabilities"] = probabilities
        response["required"] = sorted({*response.get("required", ()), "probabilities"})
    by_column = output.columnar_schemas()
    for name in ("classes", "probabilities"):
        if name in by_column:
            columnar["properties"][name] = by_column[name]
        else:
            columnar["properties"].pop(name, None)
    columnar["required"] = sorted({*columnar.get("required", ()), *by_column})
    response["additionalProperties"] = columnar["additionalProperties"] = False
    return probabilities is None


def _either(kind: str, *schema_names: str) -> dict[str, Any]:
    """One of the predict formats' schemas: `oneOf` where a body matches one format only,
    `anyOf` where the formats' bodies coincide (answers without probabilities)."""
    return {kind: [{"$ref": f"#/components/schemas/{name}"} for name in schema_names]}


# A single-model route (method, path) -> its route under /models/<name>/.
_MODEL_ROUTES = {(method.lower(), path): route for method, path, route in names.PREDICT_ROUTES}


def openapi_document(app: Any, service: PredictionService) -> dict[str, Any]:
    """Powertools' generated document, with `instances` items replaced by the pinned model's
    row schema (when the model is loaded) so clients see the real feature contract, and the
    /models/<name>/ routes of every model of the deployment."""
    document: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title="modelship predict API",
            version=service.model_version,
            description="Predictions from scikit-learn models, each pinned to a Lambda version "
            f"of its own function. This document is served by model {service.settings.model_name}"
            "'s function and describes that model exactly (on the single-model routes and on its "
            "/models/<name>/ routes); every other model of the deployment has its own document.",
        )
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    request = TypeAdapter(PredictRequest).json_schema()
    schemas["GenericPredictRequest"] = copy.deepcopy(request)
    schemas["GenericColumnarPredictRequest"] = TypeAdapter(ColumnarPredictRequest).json_schema()
    instances = request["properties"]["instances"]
    instances["maxItems"] = service.settings.max_rows
    try:
        loaded = service.model()
    except ModelshipError:
        loaded = None
    if loaded is not None:
        schemas["Instance"] = loaded.schema.json_schema()
        instances["items"] = {"$ref": "#/components/schemas/Instance"}
        schemas["ColumnarPredictRequest"] = service.columns(loaded).json_schema(
            service.settings.max_rows
        )
    else:
        schemas["ColumnarPredictRequest"] = copy.deepcopy(schemas["GenericColumnarPredictRequest"])
    schemas["PredictRequest"] = request
    for model in (
        ErrorDetail,
        ErrorBody,
        ErrorResponse,
        PredictResponse,
        ColumnarPredictResponse,
        HealthResponse,
    ):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        model_schema.pop("$defs", None)
        schemas[model.__name__] = model_schema
    schemas["GenericPredictResponse"] = copy.deepcopy(schemas["PredictResponse"])
    schemas["GenericColumnarPredictResponse"] = copy.deepcopy(schemas["ColumnarPredictResponse"])
    alike = True
    if loaded is not None:
        alike = _describe_output(
            schemas["PredictResponse"], schemas["ColumnarPredictResponse"], service
        )
    paths = document.setdefault("paths", {})
    _describe_routes(
        paths,
        _either("oneOf", "PredictRequest", "ColumnarPredictRequest"),
        _either("anyOf" if alike else "oneOf", "PredictResponse", "ColumnarPredictResponse"),
    )
    for path in [p for p in paths if p.startswith(f"{names.MODEL_ROUTES_PREFIX}/{{")]:
        del paths[path]  # the templated /models/{name}/... routes: one concrete set per model
    for model_name in service.settings.models:
        paths.update(_model_paths(paths, model_name, own=model_name == service.settings.model_name))
    return document


def _describe_routes(
    paths: dict[str, Any], request: dict[str, Any], response: dict[str, Any]
) -> None:
    """The single-model routes' request and answers (`request` and `response` are the
    predict schemas, row or columnar: the own model's exact ones, or the generic envelope)."""
    operation = paths.get("/predict", {}).get("post")
    if operation is not None:
        operation["requestBody"] = {
            "required": True,
            "description": "Rows (`instances`, one object per row) or columns (`columns`, one "
            "array per feature); a columnar request gets a columnar answer.",
            "content": {"application/json": {"schema": request}},
        }
        operation["responses"] = {
            "200": {
                "description": "Predictions: in rows for `instances`, in columns (`classes` "
                "and a probability matrix for classifiers) for `columns`.",
                "content": {"application/json": {"schema": response}},
            },
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
    document = paths.get("/openapi.json", {}).get("get")
    if document is not None:
        document["responses"] = {
            "200": {
                "description": "This document.",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }


def _model_paths(paths: dict[str, Any], model_name: str, *, own: bool) -> dict[str, Any]:
    """/models/<model_name>/...: the single-model routes' operations (exact for the own model,
    the generic envelope for another), each also answering 404 `unknown_model`."""
    prefix = names.model_routes_prefix(model_name)
    operations: dict[str, Any] = {
        path: {method: copy.deepcopy(paths[path][method])}
        for (method, path) in _MODEL_ROUTES
        if method in paths.get(path, {})
    }
    if not own:
        _describe_routes(
            operations,
            _either("oneOf", "GenericPredictRequest", "GenericColumnarPredictRequest"),
            _either("anyOf", "GenericPredictResponse", "GenericColumnarPredictResponse"),
        )
    described: dict[str, Any] = {}
    for (method, path), route in _MODEL_ROUTES.items():
        if path not in operations:
            continue
        operation = operations[path][method]
        operation["summary"] = f"{method.upper()} {prefix}/{route}"
        operation["operationId"] = re.sub(r"\W", "_", f"{model_name}_{route}_{method}")
        operation["responses"][str(UNKNOWN_MODEL_STATUS)] = _error_response(UNKNOWN_MODEL_STATUS)
        operation["description"] = (
            f"Model {model_name}, this function's own: answers as {path} does."
            if own
            else f"Model {model_name}, described by its generic envelope here: the exact row "
            f"schema and answers are in {prefix}/openapi.json."
        )
        described[f"{prefix}/{route}"] = {method: operation}
    return described
