"""Which rows and fields of a schema-valid request the estimator cannot score.

A finite but huge number (1e308) passes the schema, then a scaler divides it into infinity
and the estimator raises or answers NaN. That is the client's input, so it is a 422 naming
the row and field. The search runs only after a failure: one transform of the request per
feature, each with every other feature set to a value seen in training, so a non-finite
transformed value is attributed to the one input column that caused it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelship.registry.manifest import FeatureSpec
from modelship.serving.schema import RowSchema

MAX_DETAILS = 50
# Single-row calls one search may make: bounds its time whatever the request's size, so a
# request can never turn the search into a function timeout.
MAX_SINGLE_ROW_CALLS = 1000
_NOT_FINITE = (
    "not_finite_after_transform",
    "The model's preprocessing turns this value into a non-finite number.",
)
_NOT_SCORABLE = ("not_scorable", "The model cannot score this row.")


def finite_rows(output: np.ndarray) -> np.ndarray:
    """Per row of an estimator's output, whether its numbers are finite. Labels (strings,
    integers, objects) are always finite."""
    rows = len(output)
    if output.dtype.kind not in "fc":
        return np.ones(rows, dtype=bool)
    return np.asarray(np.isfinite(output).reshape(rows, -1).all(axis=1))


def training_probe(schema: RowSchema) -> Any:
    """The estimator's input for one row of values seen in training."""
    return schema.matrix_input(np.array([_baseline(schema.features)], dtype=object))


def scores_training_values(method: Any, schema: RowSchema) -> bool:
    """Whether the estimator's `method` answers finite numbers for one row of values seen in
    training: if not, a failure is the model's, not the client's."""
    try:
        with np.errstate(all="ignore"):
            return bool(finite_rows(np.asarray(method(training_probe(schema)))).all())
    except Exception:
        return False


def locate_unscorable(
    estimator: Any,
    method: Any,
    schema: RowSchema,
    matrix: np.ndarray,
    failed_rows: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """Details `{row, field, type, message}`, at most MAX_DETAILS, for the request's object
    `matrix` (RowSchema.to_matrix). `failed_rows` are rows whose output was not finite, when
    the estimator answered at all."""
    budget = [MAX_SINGLE_ROW_CALLS]
    details = _per_feature(estimator, schema, matrix, budget)
    if not details:
        rows = (
            list(failed_rows)
            if failed_rows is not None
            else _rows_that_raise(method, schema, matrix, budget)
        )
        details = [_detail(row, None, _NOT_SCORABLE) for row in rows[:MAX_DETAILS]]
    if not details:
        details = [_detail(None, None, _NOT_SCORABLE)]
    return details


def _detail(row: int | None, field: str | None, kind: tuple[str, str]) -> dict[str, Any]:
    return {"row": row, "field": field, "type": kind[0], "message": kind[1]}


def _preprocessing(estimator: Any) -> Any | None:
    steps = getattr(estimator, "steps", None)
    if not steps or len(steps) < 2:
        return None
    return estimator[:-1]


def _baseline(features: Sequence[FeatureSpec]) -> list[Any]:
    """One value per feature that training saw, so it transforms to finite numbers."""
    return [
        f.categories[0] if f.categories else (f.min if f.min is not None else 0.0) for f in features
    ]


def _non_finite_rows(transformed: Any) -> np.ndarray:
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    values = np.asarray(transformed, dtype=float)
    return np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))


def _single_rows(count: int, budget: list[int]) -> range:
    """Row indexes for a row-by-row search, as many as the budget has left (and spent)."""
    allowed = min(count, budget[0])
    budget[0] -= allowed
    return range(allowed)


def _per_feature(
    estimator: Any, schema: RowSchema, matrix: np.ndarray, budget: list[int]
) -> list[dict[str, Any]]:
    preprocessing = _preprocessing(estimator)
    if preprocessing is None:
        return []
    features = schema.features
    baseline = np.array([_baseline(features)] * len(matrix), dtype=object)
    found: list[tuple[int, int]] = []
    with np.errstate(all="ignore"):
        for column, _ in enumerate(features):
            probe = baseline.copy()
            probe[:, column] = matrix[:, column]
            try:
                rows = _non_finite_rows(preprocessing.transform(schema.matrix_input(probe)))
            except Exception:  # the column alone makes the transform refuse: which rows?
                rows = np.array(
                    [
                        r
                        for r in _single_rows(len(probe), budget)
                        if _transform_fails(preprocessing, schema.matrix_input(probe[r : r + 1]))
                    ]
                )
            found.extend((int(row), column) for row in rows)
    found.sort()
    return [_detail(row, features[column].name, _NOT_FINITE) for row, column in found[:MAX_DETAILS]]


def _transform_fails(preprocessing: Any, row: Any) -> bool:
    try:
        return bool(len(_non_finite_rows(preprocessing.transform(row))))
    except Exception:
        return True


def _rows_that_raise(
    method: Any, schema: RowSchema, matrix: np.ndarray, budget: list[int]
) -> list[int]:
    rows = []
    with np.errstate(all="ignore"):
        for row in _single_rows(len(matrix), budget):
            try:
                output = np.asarray(method(schema.matrix_input(matrix[row : row + 1])))
            except Exception:
                rows.append(row)
                continue
            if not finite_rows(output).all():
                rows.append(row)
            if len(rows) >= MAX_DETAILS:
                break
    return rows
