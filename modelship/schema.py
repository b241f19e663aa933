"""Request rows validated against a model's feature schema, then shaped for the estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelship.errors import SchemaMismatch
from modelship.manifest import FeatureSpec

# Built at run time from the manifest; typed as Any because checkers need literal TypedDicts.
_typed_dict: Any = TypedDict

# Strict: a numeric feature sent as "12" or true is a client bug worth a 422, not a guess.
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _field_type(feature: FeatureSpec) -> Any:
    if feature.kind == "numeric":
        return _Number
    assert feature.categories is not None
    return Literal[feature.categories]


class RowSchema:
    """Validates `instances` rows for one model and builds the estimator's input matrix."""

    def __init__(self, features: Sequence[FeatureSpec]) -> None:
        self.features = tuple(features)
        self.names = [f.name for f in self.features]
        fields = {f.name: _field_type(f) for f in self.features}
        row_type: Any = _typed_dict("Row", fields)
        row_type.__pydantic_config__ = ConfigDict(extra="forbid")
        self._row: TypeAdapter[Any] = TypeAdapter(row_type)
        self._rows: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[row_type])
        self._numeric = [
            (i, f.min, f.max) for i, f in enumerate(self.features) if f.kind == "numeric"
        ]

    @property
    def numeric_count(self) -> int:
        return len(self._numeric)

    def json_schema(self) -> dict[str, Any]:
        """JSON schema of one row, for the OpenAPI document."""
        schema = self._row.json_schema()
        schema["title"] = "Instance"
        return schema

    def validate(self, instances: Sequence[Any]) -> list[dict[str, Any]]:
        try:
            rows: list[dict[str, Any]] = self._rows.validate_python(instances)
        except ValidationError as exc:
            raise SchemaMismatch(
                f"{exc.error_count()} schema violation(s)", _describe(exc)
            ) from None
        return rows

    def to_matrix(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Object matrix in feature order: the input the ColumnTransformer was fitted on."""
        names = self.names
        return np.array([[row[n] for n in names] for row in rows], dtype=object)

    def count_out_of_range(self, matrix: np.ndarray) -> int:
        """Numeric values outside the training range: served, but worth a metric (drift)."""
        outside = 0
        for index, low, high in self._numeric:
            column = matrix[:, index].astype(float)
            if low is not None:
                outside += int((column < low).sum())
            if high is not None:
                outside += int((column > high).sum())
        return outside


def _describe(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as {row, field, type, message}; the input value is not echoed back."""
    described: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        row = loc[0] if loc and isinstance(loc[0], int) else None
        field = loc[1] if len(loc) > 1 else None
        if (row, field) in seen:  # a union reports each failed member; one line per field
            continue
        seen.add((row, field))
        kind = error["type"]
        message = error["msg"]
        if kind in {"int_type", "float_type"}:
            kind, message = "number_type", "Input should be a number"
        described.append({"row": row, "field": field, "type": kind, "message": message})
        if len(described) >= 50:
            break
    return described
