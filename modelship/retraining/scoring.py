"""Scoring a model on the run's holdout rows, as the predict function would call it: the rows
go through the model's own RowSchema (`to_input`), so a DataFrame-fitted model gets a
DataFrame with its fitted dtypes and an array model the object matrix.

A missing value (NaN, None) is sent as null, as a client would send it. A row missing a value
of a feature the model's manifest does not allow to be null is one the predict function
refuses (a 422), so the model cannot be scored on it: it is left out of that model's score,
counted in its `unscorable_rows` metric and logged with the columns; a model that can be
scored on none of the holdout rows fails the run, naming them.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from modelship.errors import TrainingError
from modelship.registry.manifest import FeatureSpec, Manifest
from modelship.serving.schema import RowSchema
from modelship.training.tables import Table
from modelship.training.training import evaluate

logger = logging.getLogger(__name__)

SINGLE_ROW_SAMPLES = 50


def holdout_records(
    table: Table, features: tuple[FeatureSpec, ...], holdout: np.ndarray
) -> tuple[list[dict[str, Any]], np.ndarray, dict[str, int]]:
    """The holdout rows as a client would send them (numbers as float, categories as str,
    a missing value as None), those the model can be served, and for each feature the model
    requires, how many holdout rows lack it: (records, which holdout positions they are,
    missing counts)."""
    columns = [f.name for f in features]
    values = [[_or_none(v) for v in table.columns[name][holdout].tolist()] for name in columns]
    scorable = np.ones(len(holdout), dtype=bool)
    missing: dict[str, int] = {}
    for feature, column in zip(features, values, strict=True):
        if feature.nullable:
            continue
        absent = np.array([v is None for v in column], dtype=bool)
        if absent.any():
            missing[feature.name] = int(absent.sum())
            scorable &= ~absent
    records = [
        dict(zip(columns, row, strict=True))
        for row, keep in zip(zip(*values, strict=True), scorable, strict=True)
        if keep
    ]
    return records, scorable, missing


def _or_none(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def score(
    estimator: Any, manifest: Manifest, table: Table, holdout: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """Holdout metrics for the model's task, its single-row latency and artifact size, and
    how many holdout rows it could not be scored on (`unscorable_rows`)."""
    where = f"{manifest.name}/{manifest.version}"
    missing_columns = [c for c in manifest.feature_names if c not in table.columns]
    if missing_columns:
        raise TrainingError(f"{where} needs column(s) the dataset lacks: {missing_columns}")
    schema = RowSchema(manifest.features, manifest.input_format)
    records, scorable, missing = holdout_records(table, manifest.features, holdout)
    unscorable = len(holdout) - len(records)
    if missing:
        described = ", ".join(f"{name!r} ({count} rows)" for name, count in missing.items())
        if not records:
            raise TrainingError(
                f"{where} cannot be scored on any of the {len(holdout)} holdout rows: they lack "
                f"values of {described}, which its schema requires"
            )
        logger.warning(
            "%s scored on %d of %d holdout rows: %d lack values of %s, which its schema requires",
            where,
            len(records),
            len(holdout),
            unscorable,
            described,
        )
        y = y[scorable]
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
    metrics["unscorable_rows"] = float(unscorable)
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
