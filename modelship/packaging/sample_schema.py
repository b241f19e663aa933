"""The row schema of a model fitted elsewhere, inferred from a sample of its input.

A DataFrame sample gives the column names, kinds and dtypes; a model fitted on a DataFrame
(it has `feature_names_in_`) is served a DataFrame with those columns in that order, each
cast to the dtype it had in the sample. A model fitted on arrays keeps the array input, its
features named by the sample's columns (or x0..xn for an ndarray sample).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, ValidationError

from modelship.errors import PackagingError
from modelship.registry.manifest import FeatureKind, FeatureSpec, InputFormat

_DEFAULT_NAME = re.compile(r"x\d+")


class ColumnOverride(BaseModel):
    """What a user may say about one column instead of what the sample suggests."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FeatureKind | None = None
    categories: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    nullable: bool | None = None


@dataclass(frozen=True)
class SampleInput:
    """The sample split into what the model is called with and what describes it."""

    input_format: InputFormat
    features: tuple[FeatureSpec, ...]
    # The feature columns in feature order, named by feature (rows and profile come from it).
    frame: pd.DataFrame
    # What the original model is called with: the DataFrame, or the sample's own array.
    model_input: pd.DataFrame | np.ndarray
    target: pd.Series | None


def read_sample(
    model: Any,
    sample: pd.DataFrame | np.ndarray,
    *,
    target: str | None = None,
    columns: Mapping[str, Any] | None = None,
) -> SampleInput:
    """Splits the sample into features and target and infers each feature's spec, with the
    user's per-column overrides applied."""
    overrides = _parse_overrides(columns or {})
    if isinstance(sample, np.ndarray):
        frame, model_input, labels = _from_array(sample, target, overrides)
        input_format: InputFormat = "array"
    elif isinstance(sample, pd.DataFrame):
        frame, model_input, labels, input_format = _from_frame(model, sample, target)
    else:
        raise PackagingError(
            f"the sample is a {type(sample).__name__}; pass a pandas DataFrame (or a numpy "
            "array for a model fitted on arrays)",
            reason="invalid_sample",
        )
    if frame.shape[0] == 0:
        raise PackagingError("the sample has no rows", reason="invalid_sample")
    expected = getattr(model, "n_features_in_", None)
    if isinstance(expected, int) and expected != frame.shape[1]:
        raise PackagingError(
            f"the model takes {expected} features; the sample has {frame.shape[1]}"
            + (f" besides the target {target!r}" if target else ""),
            reason="invalid_sample",
        )
    unknown = sorted(set(overrides) - set(frame.columns))
    if unknown:
        raise PackagingError(
            f"column overrides name {', '.join(map(repr, unknown))}, which the model does not "
            f"take (features: {', '.join(frame.columns)})",
            reason="invalid_override",
        )
    dataframe = input_format == "dataframe"
    features = tuple(
        _apply_override(_infer(name, frame[name], dataframe), frame[name], overrides.get(name))
        for name in frame.columns
    )
    return SampleInput(input_format, features, frame, model_input, labels)


def sample_rows(frame: pd.DataFrame, features: tuple[FeatureSpec, ...]) -> list[dict[str, Any]]:
    """The sample's rows as a client would send them in JSON: null for a missing value."""
    columns = [_json_values(frame[f.name], f) for f in features]
    return [
        {f.name: column[i] for f, column in zip(features, columns, strict=True)}
        for i in range(frame.shape[0])
    ]


def _from_array(
    sample: np.ndarray, target: str | None, overrides: Mapping[str, ColumnOverride]
) -> tuple[pd.DataFrame, np.ndarray, None]:
    if sample.ndim != 2:
        raise PackagingError(
            f"the sample array has {sample.ndim} dimension(s); pass rows by columns (2-D)",
            reason="invalid_sample",
        )
    if target is not None:
        raise PackagingError(
            "a target column needs a DataFrame sample (an array has no column names)",
            reason="invalid_sample",
        )
    width = sample.shape[1]
    names = [f"x{i}" for i in range(width)]
    # Overrides that name every column, and not as x0..xn, name the array's columns in order.
    given = list(overrides)
    if len(given) == width and not all(_DEFAULT_NAME.fullmatch(n) for n in given):
        names = given
    frame = pd.DataFrame(
        {name: sample[:, i] for i, name in enumerate(names)}, index=range(sample.shape[0])
    )
    return frame, sample, None


def _from_frame(
    model: Any, sample: pd.DataFrame, target: str | None
) -> tuple[pd.DataFrame, pd.DataFrame | np.ndarray, pd.Series | None, InputFormat]:
    labels = None
    features = sample
    if target is not None:
        if target not in sample.columns:
            raise PackagingError(
                f"the sample has no target column {target!r} "
                f"(columns: {', '.join(map(str, sample.columns))})",
                reason="invalid_sample",
            )
        labels = sample[target]
        features = sample.drop(columns=[target])
    fitted_names = getattr(model, "feature_names_in_", None)
    if fitted_names is None:
        # Fitted on arrays: the sample's columns name the features, in the sample's order.
        frame = features.set_axis([str(c) for c in features.columns], axis=1)
        return frame, features.to_numpy(), labels, "array"
    names = [str(n) for n in fitted_names]
    missing = [n for n in names if n not in features.columns]
    if missing:
        raise PackagingError(
            f"the model was fitted on columns the sample lacks: {', '.join(missing)}",
            reason="invalid_sample",
        )
    frame = features[names]
    return frame, frame, labels, "dataframe"


def _infer(name: str, column: pd.Series, dataframe: bool) -> FeatureSpec:
    frame_dtype = str(column.dtype) if dataframe else None
    present = column.dropna()
    nullable = bool(present.shape[0] < column.shape[0])
    if present.empty:
        raise _unsupported(name, "has no values in the sample", "pass a sample where it has some")
    kind = _kind_of(name, column, present)
    if kind in {"int", "float"}:
        numbers = present.astype(float).to_numpy()
        if not np.isfinite(numbers).all():
            raise _unsupported(name, "holds infinite values", "JSON cannot carry them")
        return FeatureSpec(
            name=name,
            kind="numeric",
            dtype="int" if kind == "int" else "float",
            min=float(numbers.min()),
            max=float(numbers.max()),
            nullable=nullable,
            frame_dtype=frame_dtype,
        )
    if isinstance(column.dtype, pd.CategoricalDtype):
        # Every declared category is a value the model may have seen, not only the sampled ones.
        levels = {str(c) for c in column.dtype.categories}
    else:
        levels = {str(v) for v in present}
    return FeatureSpec(
        name=name,
        kind="categorical",
        dtype="str",
        categories=tuple(sorted(levels)),
        nullable=nullable,
        frame_dtype=frame_dtype,
    )


def _kind_of(name: str, column: pd.Series, present: pd.Series) -> str:
    """ "int", "float" or "str"; anything else (bool, dates, mixed values) is refused."""
    dtype = column.dtype
    if ptypes.is_bool_dtype(dtype):
        raise _unsupported(
            name,
            f"has dtype {dtype}, which a JSON row cannot carry unambiguously",
            "cast it to int (0/1) or to str before fitting",
        )
    if ptypes.is_numeric_dtype(dtype) and not ptypes.is_complex_dtype(dtype):
        return "int" if ptypes.is_integer_dtype(dtype) else "float"
    if isinstance(dtype, pd.CategoricalDtype):
        inferred = ptypes.infer_dtype(dtype.categories, skipna=True)
    elif ptypes.is_object_dtype(dtype) or ptypes.is_string_dtype(dtype):
        inferred = ptypes.infer_dtype(present, skipna=True)
    else:
        raise _unsupported(name, f"has dtype {dtype}", "cast it to a number or to str")
    if inferred == "string":
        return "str"
    if inferred == "integer" and not isinstance(dtype, pd.CategoricalDtype):
        return "int"
    if inferred in {"floating", "mixed-integer-float"} and not isinstance(
        dtype, pd.CategoricalDtype
    ):
        return "float"
    raise _unsupported(
        name,
        f"holds {inferred} values",
        "give it one type: numbers, or text categories",
    )


def _apply_override(
    spec: FeatureSpec, column: pd.Series, override: ColumnOverride | None
) -> FeatureSpec:
    if override is None:
        return spec
    name = spec.name
    update = override.model_dump(exclude_none=True)
    kind = update.get("kind", spec.kind)
    if kind == "numeric" and spec.kind == "categorical":
        raise _bad_override(name, "holds text in the sample; it cannot be numeric")
    if kind == "categorical":
        if "min" in update or "max" in update:
            raise _bad_override(name, "is categorical: min and max do not apply")
        if spec.kind == "numeric" and spec.dtype != "int":
            raise _bad_override(
                name, "holds fractional numbers; only integer codes can be categories"
            )
        seen = set(_json_values(column.dropna(), spec.model_copy(update={"kind": kind})))
        given = set(update.get("categories", spec.categories or ()))
        if not given:
            raise _bad_override(name, "needs its categories to be categorical")
        unlisted = sorted(str(v) for v in seen - given)
        if unlisted:
            raise _bad_override(name, f"leaves out categories the sample has: {unlisted}")
        update.update(categories=tuple(sorted(given)), dtype="str", min=None, max=None)
    elif "categories" in update:
        raise _bad_override(name, "is numeric: categories do not apply")
    if update.get("nullable") is False and bool(column.isna().any()):
        raise _bad_override(name, "has missing values in the sample; it must be nullable")
    try:
        return FeatureSpec(**{**spec.model_dump(), **update})
    except ValidationError as exc:
        raise _bad_override(name, exc.errors()[0]["msg"]) from None


def _json_values(column: pd.Series, feature: FeatureSpec) -> list[Any]:
    """One column's values as JSON would carry them (None where missing)."""
    missing = column.isna().to_numpy()
    values = column.astype(object).to_numpy()
    if feature.kind == "categorical":
        convert: Any = _category_text
    elif feature.dtype == "int":
        convert = int
    else:
        convert = float
    return [None if gone else convert(v) for v, gone in zip(values, missing, strict=True)]


def _category_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and not math.isinf(value):
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def _parse_overrides(columns: Mapping[str, Any]) -> dict[str, ColumnOverride]:
    parsed: dict[str, ColumnOverride] = {}
    for name, override in columns.items():
        try:
            parsed[str(name)] = ColumnOverride.model_validate(override)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(the override)"
            raise PackagingError(
                f"column override for {name!r}: {where}: {first['msg']} (allowed: kind, "
                "categories, min, max, nullable)",
                reason="invalid_override",
            ) from None
    return parsed


def _unsupported(name: str, problem: str, advice: str) -> PackagingError:
    return PackagingError(f"column {name!r} {problem}; {advice}", reason="unsupported_column")


def _bad_override(name: str, problem: str) -> PackagingError:
    return PackagingError(
        f"column override for {name!r}: {name!r} {problem}", reason="invalid_override"
    )
