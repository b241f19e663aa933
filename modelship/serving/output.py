"""What the pinned model answers, for /model/info and the OpenAPI document: the shape of
`predictions` (and `probabilities` for classifiers) that `service` produces for its task.

Classifiers are described by their manifest, whose `labels` says how a label is chosen: the
class of highest probability, or the estimator's own predict. For regression and predict-only
models the output's shape (one value or a list per row) and type are the estimator's own, so
they are read from one prediction on values seen in training, made once when first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from modelship.class_labels import LabelRule
from modelship.serving.model_store import LoadedModel
from modelship.serving.unscorable import training_probe


@dataclass(frozen=True)
class Output:
    task: str
    classes: list[Any] | None
    # Regression and predict-only: values per row (1: a scalar; more: a list), and the JSON
    # type of each value; None when the probe failed.
    values_per_row: int | None = None
    value_type: str | None = None
    # Classification: how a label is chosen (the manifest's `labels`).
    labels: LabelRule = "argmax"

    def describe(self) -> dict[str, Any]:
        """The /model/info `output` entry."""
        if self.task == "classification":
            return {
                "task": self.task,
                "classes": self.classes,
                "labels": self.labels,
                "predictions": _LABELS[self.labels],
                "probabilities": "per row, one probability per class label (string keys)",
            }
        per_row = "a list of values" if (self.values_per_row or 1) > 1 else "one value"
        what = "number" if self.task == "regression" else "the estimator's predict output"
        return {
            "task": self.task,
            "predictions": f"per row, {per_row}: {what}",
            "values_per_row": self.values_per_row,
            "value_type": self.value_type,
        }

    def predictions_schema(self) -> dict[str, Any]:
        """JSON schema of the `predictions` array."""
        if self.task == "classification":
            item: dict[str, Any] = {"enum": list(self.classes or ())}
        else:
            item = {"type": self.value_type} if self.value_type else {}
            if self.values_per_row is None:
                item = {"anyOf": [item, {"type": "array", "items": item}]} if item else {}
            elif self.values_per_row > 1:
                item = {
                    "type": "array",
                    "items": item,
                    "minItems": self.values_per_row,
                    "maxItems": self.values_per_row,
                }
        return {"type": "array", "items": item, "description": self.describe()["predictions"]}

    def columnar_schemas(self) -> dict[str, dict[str, Any]]:
        """JSON schemas of a columnar answer's `classes` and `probabilities` (a matrix in the
        order of `classes`); none for a model that answers no probabilities."""
        if self.task != "classification":
            return {}
        labels = [str(c) for c in self.classes or ()]
        probability = {"type": "number", "minimum": 0, "maximum": 1}
        return {
            "classes": {
                "type": "array",
                "description": "The class labels (strings), in the estimator's order.",
                "items": {"type": "string"},
                "const": labels,
            },
            "probabilities": {
                "type": "array",
                "description": "One row per prediction: one probability per class, in the "
                "order of `classes`, as predict_proba gives it.",
                "items": {
                    "type": "array",
                    "items": probability,
                    "minItems": len(labels),
                    "maxItems": len(labels),
                },
            },
        }

    def probabilities_schema(self) -> dict[str, Any] | None:
        """JSON schema of the `probabilities` array; None when the model answers none."""
        if self.task != "classification":
            return None
        labels = [str(c) for c in self.classes or ()]
        probability = {"type": "number", "minimum": 0, "maximum": 1}
        return {
            "type": "array",
            "description": "One probability per class label and row, as predict_proba gives it.",
            "items": {
                "type": "object",
                "properties": dict.fromkeys(labels, probability),
                "required": labels,
                "additionalProperties": False,
            },
        }


_LABELS = {
    "argmax": "one class label per row: the class of highest probability (its predict)",
    "predict": "one class label per row: the estimator's predict (not always the most probable)",
}


def model_output(loaded: LoadedModel) -> Output:
    manifest = loaded.manifest
    if manifest.task == "classification":
        return Output(manifest.task, list(manifest.classes or ()), labels=manifest.labels)
    try:
        with np.errstate(all="ignore"):
            values = np.asarray(loaded.estimator.predict(training_probe(loaded.schema)))
    except Exception:
        return Output(manifest.task, None, value_type="number" if _regression(loaded) else None)
    per_row = int(np.prod(values.shape[1:])) if values.ndim > 1 else 1
    value_type = "number" if _regression(loaded) else _json_type(values)
    return Output(manifest.task, None, per_row, value_type)


def _regression(loaded: LoadedModel) -> bool:
    return loaded.manifest.task == "regression"


def _json_type(values: np.ndarray) -> str | None:
    kind = values.dtype.kind
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "number"
    if kind == "U":
        return "string"
    return None  # objects: whatever the estimator put in them
