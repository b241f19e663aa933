"""A DataFrame model's input: validated rows laid out as pandas blocks with the fitted
column names and dtypes. Imported by DataFrame models only (pandas is a cold-start cost)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.internals import create_dataframe_from_blocks

from modelship.errors import IncompatibleModel
from modelship.registry.manifest import FeatureSpec


def is_integer_dtype(feature: FeatureSpec) -> bool:
    return feature.frame_dtype is not None and pd.api.types.is_integer_dtype(_dtype(feature))


def _dtype(feature: FeatureSpec) -> Any:
    dtype = feature.frame_dtype or ("float64" if feature.kind == "numeric" else "object")
    try:
        return pd.api.types.pandas_dtype(dtype)
    except TypeError:
        raise IncompatibleModel(
            f"feature {feature.name!r} has frame_dtype {dtype!r}, which pandas does not know",
            reason="manifest_schema_mismatch",
        ) from None


class FrameLayout:
    """How a DataFrame model's columns are laid out as pandas blocks: one 2-D numpy block
    per numpy dtype (float64, int64, object, ...) and one array per extension-dtype column
    ("str", "category"). Built from plain lists and handed to pandas as blocks, a DataFrame
    costs tens of microseconds; the DataFrame constructor spends about a millisecond on
    inference for the same ten columns."""

    def __init__(self, features: Sequence[FeatureSpec]) -> None:
        self.columns = pd.Index([f.name for f in features], dtype=object)
        by_dtype: dict[np.dtype[Any], list[int]] = {}
        self.extension: list[tuple[int, str, Any]] = []
        for index, feature in enumerate(features):
            dtype = _dtype(feature)
            if isinstance(dtype, np.dtype):
                by_dtype.setdefault(dtype, []).append(index)
            else:
                self.extension.append((index, feature.name, _extension_builder(feature, dtype)))
        self.blocks = [
            (
                dtype,
                np.array(indexes, dtype=np.intp),
                [features[i].name for i in indexes],
                any(features[i].nullable for i in indexes),
            )
            for dtype, indexes in by_dtype.items()
        ]

    def frame(self, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
        return self._frame(lambda name: [row[name] for row in rows], len(rows))

    def frame_from_columns(self, columns: Mapping[str, list[Any]]) -> pd.DataFrame:
        """The same frame from validated columns of equal length (a columnar request)."""
        return self._frame(columns.__getitem__, len(columns[self.columns[0]]))

    def _frame(self, column: Callable[[str], list[Any]], rows: int) -> pd.DataFrame:
        blocks: list[tuple[Any, np.ndarray]] = []
        for dtype, placement, names, nullable in self.blocks:
            values = [column(name) for name in names]
            if nullable and any(None in values_ for values_ in values):
                blocks.extend(_with_nulls(dtype, placement, values))
            else:
                blocks.append((np.array(values, dtype=dtype), placement))
        for index, name, build in self.extension:
            blocks.append((build(column(name)), np.array([index], dtype=np.intp)))
        return create_dataframe_from_blocks(blocks, index=pd.RangeIndex(rows), columns=self.columns)


def _with_nulls(
    dtype: np.dtype[Any], placement: np.ndarray, values: list[list[Any]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """A block holding a null: NaN where pandas reads a missing value as NaN. An integer
    column cannot hold one, so that column alone becomes float64, as pandas would make it."""
    if dtype.kind == "O":
        block = np.array(values, dtype=object)
        block[pd.isna(block)] = np.nan
        return [(block, placement)]
    if dtype.kind == "f":
        return [(np.array(values, dtype=dtype), placement)]  # numpy reads None as NaN
    return [
        (np.array([column], dtype=np.float64 if None in column else dtype), placement[i : i + 1])
        for i, column in enumerate(values)
    ]


def _extension_builder(feature: FeatureSpec, dtype: Any) -> Any:
    """A function from one column's validated values (None for null) to its pandas array."""
    if isinstance(dtype, pd.CategoricalDtype):
        # The fitted categories are not in the manifest; the allowed ones are the closest.
        categorical = pd.CategoricalDtype(pd.Index(list(feature.categories or ()), dtype=object))
        codes = {category: code for code, category in enumerate(categorical.categories)}
        return lambda values: pd.Categorical.from_codes(
            [codes.get(v, -1) for v in values], dtype=categorical
        )
    return lambda values: pd.array(values, dtype=dtype)
