"""The training profile a manifest carries for drift checks: per feature its decile bins, its
101 percentiles and, for a feature with few distinct values, each value's share (categories:
their shares); and the same for what the model answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from modelship.registry.manifest import (
    MAX_DISCRETE_VALUES,
    PROFILE_QUANTILES,
    CategoricalProfile,
    FeatureKind,
    NumericProfile,
    Task,
)
from modelship.training.tables import Table


def profile_table(
    table: Table, rows: np.ndarray, bins: int = 10
) -> dict[str, NumericProfile | CategoricalProfile]:
    """Per-feature training distribution: deciles for numbers, frequencies for categories."""
    return {
        name: profile_column(table.columns[name][rows], table.kinds[name], bins)
        for name in table.feature_names
    }


def profile_column(
    values: np.ndarray, kind: FeatureKind, bins: int = 10
) -> NumericProfile | CategoricalProfile:
    """One feature's distribution over its (non-missing) values: decile bins, the 101
    percentiles and, for a feature with few distinct values, each value's share."""
    if kind == "numeric":
        numbers = values.astype(float)
        edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)))
        if len(edges) < 2:
            edges = np.array([numbers.min(), numbers.min() + 1.0])
        counts, _ = np.histogram(np.clip(numbers, edges[0], edges[-1]), bins=edges)
        distinct, value_counts = np.unique(numbers, return_counts=True)
        discrete = len(distinct) <= MAX_DISCRETE_VALUES
        quantiles = np.quantile(numbers, np.linspace(0, 1, PROFILE_QUANTILES))
        return NumericProfile(
            count=len(numbers),
            mean=float(numbers.mean()),
            std=float(numbers.std()),
            min=float(numbers.min()),
            max=float(numbers.max()),
            bin_edges=tuple(float(e) for e in edges),
            bin_fractions=tuple(float(c) / len(numbers) for c in counts),
            quantiles=tuple(_compact(q) for q in quantiles),
            values=tuple(float(v) for v in distinct) if discrete else (),
            value_fractions=(
                tuple(_compact(c / len(numbers)) for c in value_counts) if discrete else ()
            ),
        )
    levels, counts = np.unique(values.astype(str), return_counts=True)
    return CategoricalProfile(
        count=len(values),
        fractions={str(k): float(c) / len(values) for k, c in zip(levels, counts, strict=True)},
    )


def _compact(value: float) -> float:
    """Seven significant digits: plenty for a drift check, and a shorter manifest."""
    return float(f"{value:.7g}")


def prediction_profile(
    task: Task, answers: Sequence[Any] | np.ndarray
) -> NumericProfile | CategoricalProfile | None:
    """The distribution of a model's answers, as the drift monitor compares the served ones: a
    classifier's labels as str, a single-output regressor's numbers; None for anything else
    (predict-only models, several outputs, no rows)."""
    values = np.asarray(answers)
    if len(values) == 0:
        return None
    if task == "classification":
        return profile_column(np.array([str(v) for v in values], dtype=object), "categorical")
    if task == "regression" and values.ndim == 1:
        numbers = values.astype(float)
        finite = numbers[np.isfinite(numbers)]
        return profile_column(finite, "numeric") if len(finite) else None
    return None
