"""Scoring a model on the run's holdout rows, as the predict function would call it: the rows
go through the model's own RowSchema (`to_input`), so a DataFrame-fitted model gets a
DataFrame with its fitted dtypes and an array model the object matrix.

A missing value (NaN, None) is sent as null, as a client would send it. A row missing a value
of a feature a model's manifest does not allow to be null is one its predict function
refuses (a 422), so that model cannot be scored on it: the row is left out of every compared
model's score (champion and challenger are judged on the same rows), counted in their
`unscorable_rows` metric and logged with the columns; no row left fails the run.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np

from modelship.errors import TrainingError
from modelship.registry.manifest import Manifest
from modelship.serving.schema import RowSchema
from modelship.training.tables import Table
from modelship.training.training import evaluate

logger = logging.getLogger(__name__)

SINGLE_ROW_SAMPLES = 50


def common_holdout(table: Table, manifests: list[Manifest], holdout: np.ndarray) -> np.ndarray:
    """The holdout positions every compared model can be scored on, so champion and
    challenger are judged on the same rows: a row missing a value of a feature some model's
    schema requires is left out for all of them (logged, naming the columns); no row left
    fails the run."""
    keep = np.ones(len(holdout), dtype=bool)
    reasons = []
    for manifest in manifests:
        where = f"{manifest.name}/{manifest.version}"
        lacking = [c for c in manifest.feature_names if c not in table.columns]
        if lacking:
            raise TrainingError(f"{where} needs column(s) the dataset lacks: {lacking}")
        missing: dict[str, int] = {}
        for feature in manifest.features:
            if feature.nullable:
                continue
            absent = np.array([_or_none(v) is None for v in table.columns[feature.name][holdout]])
            if absent.any():
                missing[feature.name] = int(absent.sum())
                keep &= ~absent
        if missing:
            counts = ", ".join(f"{name!r} ({count} rows)" for name, count in missing.items())
            reasons.append(f"{where} requires values of {counts}")
    if not keep.any():
        raise TrainingError(
            f"no model can be scored on any of the {len(holdout)} holdout rows: "
            + "; ".join(reasons)
        )
    if reasons:
        logger.warning(
            "scoring on %d of %d holdout rows: %s",
            int(keep.sum()),
            len(holdout),
            "; ".join(reasons),
        )
    kept: np.ndarray = holdout[keep]
    return kept


def _or_none(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def score(
    estimator: Any, manifest: Manifest, table: Table, holdout: np.ndarray, dropped: int = 0
) -> dict[str, float]:
    """Holdout metrics for the model's task on `holdout` (positions from common_holdout), its
    single-row latency and artifact size, and how many holdout rows were left out
    (`unscorable_rows`, `dropped`)."""
    schema = RowSchema(manifest.features, manifest.input_format)
    columns = manifest.feature_names
    values = [[_or_none(v) for v in table.columns[name][holdout].tolist()] for name in columns]
    records = [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
    y = table.target_values()[holdout]
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
    metrics["unscorable_rows"] = float(dropped)
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
