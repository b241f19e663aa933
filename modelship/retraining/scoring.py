"""Scoring a model on the run's holdout rows, as the predict function would call it: the rows
go through the model's own RowSchema (`to_input`), so a DataFrame-fitted model gets a
DataFrame with its fitted dtypes and an array model the object matrix."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from modelship.errors import TrainingError
from modelship.registry.manifest import Manifest
from modelship.serving.schema import RowSchema
from modelship.training.tables import Table
from modelship.training.training import evaluate

SINGLE_ROW_SAMPLES = 50


def holdout_records(table: Table, columns: list[str], holdout: np.ndarray) -> list[dict[str, Any]]:
    """The holdout rows as a client would send them (numbers as float, categories as str)."""
    values = [table.columns[name][holdout].tolist() for name in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def score(
    estimator: Any, manifest: Manifest, table: Table, holdout: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """Holdout metrics for the model's task, its single-row latency and artifact size."""
    columns = manifest.feature_names
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise TrainingError(f"{manifest.version} needs column(s) the dataset lacks: {missing}")
    schema = RowSchema(manifest.features, manifest.input_format)
    records = holdout_records(table, columns, holdout)
    x = schema.to_input(records)
    if manifest.task == "predict_only":
        metrics = _predict_only_metrics(estimator, x, y)
    else:
        metrics = evaluate(estimator, x, y, manifest.task, manifest.labels)
    one_row = schema.to_input(records[:1])
    predict = estimator.predict_proba if manifest.task == "classification" else estimator.predict
    samples = []
    for _ in range(SINGLE_ROW_SAMPLES):
        started = time.perf_counter()
        predict(one_row)
        samples.append((time.perf_counter() - started) * 1000.0)
    metrics["single_row_latency_ms"] = float(np.median(samples))
    metrics["artifact_bytes"] = float(manifest.artifact.size_bytes)
    return metrics


def _predict_only_metrics(estimator: Any, x: Any, y: np.ndarray) -> dict[str, float]:
    """A model served by `predict` alone (a classifier without predict_proba): accuracy when
    the target is class labels, else the regression metrics. No ROC-AUC, so the ROC-AUC
    gates do not apply to it."""
    from sklearn.metrics import accuracy_score
    from sklearn.utils.multiclass import type_of_target

    if type_of_target(y) not in ("binary", "multiclass"):
        return evaluate(estimator, x, y, "regression")
    started = time.perf_counter()
    predicted = estimator.predict(x)
    elapsed = time.perf_counter() - started
    return {
        "accuracy": float(accuracy_score(np.asarray(y), np.asarray(predicted))),
        "holdout_rows": float(len(y)),
        "latency_ms_per_row": 1000.0 * elapsed / max(len(y), 1),
    }
