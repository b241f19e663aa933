"""Prediction service: holds the pinned model, validates rows, predicts, shapes answers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from modelship.class_labels import served_labels
from modelship.errors import (
    ModelNotFound,
    ModelshipError,
    ModelUnavailable,
    PayloadTooLarge,
    UnknownModel,
    UnscorableInput,
)
from modelship.serving.columns import Columns, ColumnSchema, is_columnar
from modelship.serving.model_store import LoadedModel, ModelStore
from modelship.serving.output import Output, model_output
from modelship.serving.request_body import decode_body
from modelship.serving.schema import ColumnarBody
from modelship.serving.settings import PredictSettings
from modelship.serving.unscorable import finite_rows, locate_unscorable, scores_training_values

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    model_name: str
    model_version: str
    predictions: list[Any]
    # Classifiers: the class labels as strings, in the estimator's order, and one list of
    # probabilities per row in that order (predict_proba's own floats); None otherwise.
    classes: list[str] | None
    probability_rows: list[list[float]] | None
    rows: int
    model_latency_ms: float
    out_of_range_values: int
    numeric_values: int
    # The validated request, for data capture: rows, or Columns for a columnar request (which
    # is answered in columns). Never part of the answer.
    request: list[dict[str, Any]] | Columns = field(default_factory=list, repr=False)

    @property
    def columnar(self) -> bool:
        return isinstance(self.request, Columns)

    @cached_property
    def probabilities(self) -> list[dict[str, float]] | None:
        """One {class label: probability} per row, as the row format answers them."""
        if self.classes is None or self.probability_rows is None:
            return None
        labels = self.classes
        return [dict(zip(labels, row, strict=True)) for row in self.probability_rows]

    @cached_property
    def instances(self) -> list[dict[str, Any]]:
        """The validated rows (built from the columns of a columnar request when asked for)."""
        if isinstance(self.request, Columns):
            return self.request.instances()
        return self.request

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "predictions": self.predictions,
        }
        if self.probability_rows is not None:
            if self.columnar:
                body["classes"] = self.classes
                body["probabilities"] = self.probability_rows
            else:
                body["probabilities"] = self.probabilities
        return body


@dataclass(frozen=True)
class Health:
    healthy: bool
    model_name: str
    model_version: str
    reason: str | None = None
    load_source: str | None = None
    load_seconds: float | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "ok" if self.healthy else "unavailable",
            "model_name": self.model_name,
            "model_version": self.model_version,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.load_source:
            body["load_source"] = self.load_source
            body["load_seconds"] = round(self.load_seconds or 0.0, 4)
        return body


class PredictionService:
    def __init__(self, store: ModelStore, settings: PredictSettings) -> None:
        self.store = store
        self.settings = settings
        self._loaded: LoadedModel | None = None
        self._failure: ModelshipError | None = None
        self._output: Output | None = None
        self._output_of: LoadedModel | None = None
        self._columns: ColumnSchema | None = None

    @property
    def model_version(self) -> str:
        if self._loaded is not None:
            return self._loaded.manifest.version
        return self.settings.model_version or "unpinned"

    def check_model(self, name: str) -> None:
        """A /models/<name>/ route: a function answers for its own model only."""
        if name != self.settings.model_name:
            raise UnknownModel(
                f"a route of model {name[:80]!r} reached the function of {self.settings.model_name}"
            )

    def warm(self) -> LoadedModel | None:
        """Loads during init (so SnapStart snapshots a warm model); a failure is kept for
        /health and retried by the next request."""
        try:
            return self.model()
        except ModelshipError:
            return None

    def model(self) -> LoadedModel:
        if self._loaded is not None:
            return self._loaded
        if not self.settings.model_version:
            self._failure = ModelUnavailable(
                "no model version is pinned in this function's configuration",
                reason="no_model_pinned",
            )
            raise self._failure
        try:
            loaded = self.store.fetch(
                self.settings.model_name, self.settings.model_version, self.settings.model_sha256
            )
        except ModelNotFound as exc:
            self._failure = ModelUnavailable(str(exc), reason=exc.reason)
            logger.error("model load failed: %s (%s)", exc, exc.reason)
            raise self._failure from None
        except ModelshipError as exc:
            self._failure = exc
            logger.error("model load failed: %s (%s)", exc, exc.reason)
            raise
        logger.info(
            "model loaded",
            extra={
                "model_name": loaded.manifest.name,
                "model_version": loaded.manifest.version,
                "source": loaded.source,
                "seconds": round(loaded.seconds, 4),
            },
        )
        self._loaded, self._failure = loaded, None
        return loaded

    def health(self) -> Health:
        try:
            loaded = self.model()
        except ModelshipError as exc:
            return Health(
                healthy=False,
                model_name=self.settings.model_name,
                model_version=self.model_version,
                reason=exc.reason,
            )
        return Health(
            healthy=True,
            model_name=loaded.manifest.name,
            model_version=loaded.manifest.version,
            load_source=loaded.source,
            load_seconds=loaded.seconds,
        )

    def output(self) -> Output:
        """What the pinned model answers (described once per loaded model)."""
        loaded = self.model()
        if self._output is None or self._output_of is not loaded:
            self._output, self._output_of = model_output(loaded), loaded
        return self._output

    def info(self) -> dict[str, Any]:
        manifest = self.model().manifest
        return {
            "name": manifest.name,
            "version": manifest.version,
            "created_at": manifest.created_at.isoformat(),
            "task": manifest.task,
            "classes": list(manifest.classes) if manifest.classes else None,
            "labels": manifest.labels if manifest.task == "classification" else None,
            "output": self.output().describe(),
            "input_format": manifest.input_format,
            "features": [f.model_dump(exclude_none=True) for f in manifest.features],
            "artifact": {
                "format": manifest.artifact.format,
                "trusted_types": list(manifest.artifact.trusted_types),
            },
            "code": {"modules": list(manifest.code.modules)} if manifest.code else None,
            "origin": manifest.origin,
            "metrics": manifest.metrics,
            "estimator": manifest.estimator.model_dump(),
            "runtime": manifest.runtime.model_dump(),
            "sha256": manifest.artifact.sha256,
            "parent_version": manifest.parent_version,
            "training_data": manifest.training_data.model_dump(include={"uri", "rows", "target"}),
            "limits": {
                "max_rows": self.settings.max_rows,
                "max_body_bytes": self.settings.max_body_bytes,
            },
        }

    def predict_event_body(self, body: str | None, base64_encoded: bool) -> Prediction:
        """The body as API Gateway delivers it (base64 for non-text content types)."""
        return self.predict_body(decode_body(body, base64_encoded, self.settings.max_body_bytes))

    def predict_body(self, body: str | bytes) -> Prediction:
        """A raw request body, `{"instances": [...]}` or `{"columns": {...}}`: size first,
        then one validating parse of the format it is in."""
        if len(body) > self.settings.max_body_bytes:
            raise PayloadTooLarge(
                f"body of {len(body)} bytes exceeds {self.settings.max_body_bytes}",
                reason="body_too_large",
            )
        loaded = self.model()
        max_rows = self.settings.max_rows
        if is_columnar(body):
            return self._predict(loaded, self.columns(loaded).parse_request(body, max_rows))
        try:
            rows = loaded.schema.parse_request(body, max_rows)
        except ColumnarBody:
            return self._predict(loaded, self.columns(loaded).parse_request(body, max_rows))
        return self._predict(loaded, rows)

    def columns(self, loaded: LoadedModel) -> ColumnSchema:
        """The columnar parser of the loaded model (built by the first columnar request)."""
        if self._columns is None or self._columns.schema is not loaded.schema:
            self._columns = ColumnSchema(loaded.schema)
        return self._columns

    def _predict(self, loaded: LoadedModel, request: list[dict[str, Any]] | Columns) -> Prediction:
        schema = loaded.schema
        if isinstance(request, Columns):
            values = request.values
            count = request.rows
            data = schema.columns_input(values)
            out_of_range = schema.columns_out_of_range(values)

            def matrix() -> np.ndarray:
                return schema.columns_matrix(values)
        else:
            rows = request
            count = len(rows)
            data = schema.to_input(rows)
            out_of_range = schema.count_out_of_range(rows)

            def matrix() -> np.ndarray:
                return schema.to_matrix(rows)

        manifest = loaded.manifest
        estimator = loaded.estimator
        started = time.perf_counter()
        classes: list[str] | None = None
        probability_rows: list[list[float]] | None = None
        if manifest.task == "classification":
            proba = _scored(loaded, matrix, data, estimator.predict_proba)
            if manifest.labels == "predict":
                predicted = _scored(loaded, matrix, data, estimator.predict)
            else:
                predicted = served_labels(estimator, data, proba, "argmax")
            elapsed = time.perf_counter() - started
            classes = [str(c) for c in estimator.classes_]
            predictions = predicted.tolist()
            # Not rounded: clients get predict_proba's own floats (JSON's repr round-trips).
            # One tolist: per-element float() calls cost more than predicting.
            probability_rows = proba.tolist()
        else:
            values_out = _scored(loaded, matrix, data, estimator.predict)
            elapsed = time.perf_counter() - started
            if manifest.task == "regression":
                values_out = values_out.astype(float, copy=False)  # lists per row for multi-output
            predictions = values_out.tolist()
        return Prediction(
            model_name=manifest.name,
            model_version=manifest.version,
            predictions=predictions,
            classes=classes,
            probability_rows=probability_rows,
            rows=count,
            model_latency_ms=elapsed * 1000.0,
            out_of_range_values=out_of_range,
            numeric_values=count * schema.numeric_count,
            request=request,
        )


def _scored(
    loaded: LoadedModel, matrix: Callable[[], np.ndarray], data: Any, method: Any
) -> np.ndarray:
    """The estimator's output for the validated request. What it raises on it, or a
    non-finite number it answers, is the client's values (422), unless the model fails on
    values it was trained on: then the release is at fault (503 `model_error`) and the
    guardrails count it. `matrix` builds the request's object matrix, for the search."""
    try:
        with np.errstate(all="ignore"):
            output = np.asarray(method(data))
    except Exception as exc:
        logger.warning("estimator refused the request: %s", type(exc).__name__)
        raise _refusal(loaded, method, matrix, f"estimator raised {type(exc).__name__}") from None
    finite = finite_rows(output)
    if not finite.all():
        failed = np.flatnonzero(~finite).tolist()
        raise _refusal(loaded, method, matrix, "estimator answered non-finite numbers", failed)
    return output


def _refusal(
    loaded: LoadedModel,
    method: Any,
    matrix: Callable[[], np.ndarray],
    what: str,
    failed_rows: list[int] | None = None,
) -> ModelshipError:
    schema = loaded.schema
    if not scores_training_values(method, schema):
        return ModelUnavailable(f"{what}, also on values seen in training", reason="model_error")
    return UnscorableInput(
        what, locate_unscorable(loaded.estimator, method, schema, matrix(), failed_rows)
    )
