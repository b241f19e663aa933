"""The request model of POST /predict and the OpenAPI document with the model's row schema."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from modelship.errors import ModelshipError
from modelship.serving import PredictionService


class PredictRequest(BaseModel):
    """Rows are checked against the model's feature schema after this envelope."""

    model_config = ConfigDict(extra="forbid")

    instances: list[dict[str, Any]] = Field(min_length=1)


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
    operation = document.get("paths", {}).get("/predict", {}).get("post")
    if operation is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
            },
        }
    return document
