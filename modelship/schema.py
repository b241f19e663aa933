"""Request rows validated against a model's feature schema, then shaped for the estimator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelship.errors import MalformedRequest, PayloadTooLarge, SchemaMismatch
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
        self._row_type = row_type
        self._requests: dict[int, TypeAdapter[Any]] = {}

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

    def parse_request(self, body: str | bytes, max_rows: int) -> list[dict[str, Any]]:
        """Parses and validates a `{"instances": [...]}` body in one pass (pydantic's JSON
        parser validates while it reads, so no intermediate objects are built)."""
        adapter = self._requests.get(max_rows)
        if adapter is None:
            instances = Annotated[
                list[self._row_type],  # type: ignore[name-defined]
                Field(min_length=1, max_length=max_rows),
            ]
            request_type: Any = _typed_dict("PredictRequest", {"instances": instances})
            request_type.__pydantic_config__ = ConfigDict(extra="forbid")
            adapter = self._requests[max_rows] = TypeAdapter(request_type)
        try:
            request: dict[str, Any] = adapter.validate_json(body)
        except ValidationError as exc:
            kinds = {(e["type"], e["loc"][:1]) for e in exc.errors(include_url=False)}
            if any(kind == "json_invalid" for kind, _ in kinds):
                raise MalformedRequest("body is not JSON") from None
            if ("too_long", ("instances",)) in kinds:
                raise PayloadTooLarge(
                    f"more than {max_rows} rows", reason="too_many_rows"
                ) from None
            raise SchemaMismatch(
                f"{exc.error_count()} schema violation(s)", _describe(exc, prefix="instances")
            ) from None
        rows: list[dict[str, Any]] = request["instances"]
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


def _describe(exc: ValidationError, prefix: str | None = None) -> list[dict[str, Any]]:
    """Pydantic errors as {row, field, type, message}; the input value is not echoed back."""
    described: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    for error in exc.errors(include_url=False, include_input=False):
        loc = error["loc"]
        if prefix is not None:
            if not loc or loc[0] != prefix or len(loc) == 1:
                # The envelope itself: not an object, `instances` missing or not a list.
                where = ".".join(str(part) for part in loc) or None
                described.append(
                    {"row": None, "field": where, "type": error["type"], "message": error["msg"]}
                )
                continue
            loc = loc[1:]
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
