"""Request rows validated against a model's feature schema, then shaped for the estimator."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelship.errors import MalformedRequest, PayloadTooLarge, SchemaMismatch
from modelship.registry.manifest import FeatureSpec, InputFormat

if TYPE_CHECKING:
    import pandas as pd

    from modelship.serving.frames import FrameLayout

# Built at run time from the manifest; typed as Any because checkers need literal TypedDicts.
_typed_dict: Any = TypedDict

# Strict: a numeric feature sent as "12" or true is a client bug worth a 422, not a guess.
_Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
# A DataFrame column fitted as integers takes whole numbers that fit in 64 bits: 3.5 is a
# 422, not silently truncated by the cast.
_Whole = Annotated[
    float, Field(strict=True, allow_inf_nan=False, multiple_of=1, ge=-(2**63), lt=2**63)
]
# Error details listed per answer; field names echoed back are cut to this many characters
# (an unknown key can be megabytes long).
MAX_DETAILS = 50
MAX_ECHOED_FIELD = 100
# The field budget holds twice `max_rows` valid rows (so a batch a little over the row
# limit is still told `too_many_rows`), plus some slack for the envelope.
_BUDGET_ROWS_FACTOR = 2
_ENVELOPE_COMMAS = 16
# The two request formats: one object per row, or one array per feature (`columns`).
ROWS_KEY = "instances"
COLUMNS_KEY = "columns"
BOTH_FORMATS = {
    "row": None,
    "field": COLUMNS_KEY,
    "type": "both_formats",
    "message": "A body has `instances` (one object per row) or `columns` (one array per "
    "feature), not both",
}


class ColumnarBody(Exception):
    """Not an error: a body with `columns` and no `instances` is a columnar request
    (modelship.serving.columns parses it)."""


def _frames() -> Any:
    """modelship.serving.frames, imported by DataFrame models only: pandas costs every cold
    start a few hundred milliseconds, which array models need not pay."""
    from modelship.serving import frames

    return frames


def field_type(feature: FeatureSpec) -> Any:
    if feature.kind == "numeric":
        kind: Any = (
            _Whole if feature.frame_dtype and _frames().is_integer_dtype(feature) else _Number
        )
    else:
        assert feature.categories is not None
        kind = Literal[feature.categories]
    return kind | None if feature.nullable else kind


class RowSchema:
    """Validates `instances` rows for one model and builds the estimator's input: an object
    matrix in feature order, or a DataFrame with the fitted columns and dtypes."""

    def __init__(
        self, features: Sequence[FeatureSpec], input_format: InputFormat = "array"
    ) -> None:
        self.features = tuple(features)
        self.input_format = input_format
        self.names = [f.name for f in self.features]
        self._nullable = [i for i, f in enumerate(self.features) if f.nullable]
        self._layout: FrameLayout | None = (
            _frames().FrameLayout(self.features) if input_format == "dataframe" else None
        )
        fields = {f.name: field_type(f) for f in self.features}
        row_type: Any = _typed_dict("Row", fields)
        row_type.__pydantic_config__ = ConfigDict(extra="forbid")
        self._row: TypeAdapter[Any] = TypeAdapter(row_type)
        self._rows: TypeAdapter[list[dict[str, Any]]] = TypeAdapter(list[row_type])
        self._numeric = [
            (i, f.min, f.max) for i, f in enumerate(self.features) if f.kind == "numeric"
        ]
        self._numeric_names = [self.names[i] for i, _, _ in self._numeric]
        # Missing bounds are infinite: nothing is outside them.
        self._low = np.array([-np.inf if low is None else low for _, low, _ in self._numeric])
        self._high = np.array([np.inf if high is None else high for _, _, high in self._numeric])
        self._row_type = row_type
        self._requests: dict[int, TypeAdapter[Any]] = {}
        self._commas_per_row = _commas_per_row(self.features)

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
                f"{exc.error_count()} schema violation(s)", _describe(validation_errors(exc))
            ) from None
        return rows

    def check_field_budget(self, body: str | bytes, max_rows: int) -> None:
        """Refuses, before parsing, a body with more commas than twice `max_rows` valid rows
        hold. Every key or value past the first in an object or array costs a comma, and
        nesting without commas stops at the JSON parser's depth limit (a 400), so this bounds
        the values, keys and error details the parser and pydantic can be made to produce
        (870,000 repeated keys in one row cost seconds and a gigabyte) at about what the
        largest valid request costs. One count, at C speed."""
        comma = b"," if isinstance(body, bytes) else ","
        commas = body.count(comma)  # type: ignore[arg-type]
        rows = _BUDGET_ROWS_FACTOR * max_rows
        if commas > rows * self._commas_per_row + _ENVELOPE_COMMAS:
            raise PayloadTooLarge(
                f"{commas} commas: more values than {rows} rows hold", reason="too_many_fields"
            )

    def parse_request(self, body: str | bytes, max_rows: int) -> list[dict[str, Any]]:
        """Parses and validates a `{"instances": [...]}` body in one pass (pydantic's JSON
        parser validates while it reads, so no intermediate objects are built), once the
        body is known to hold no more fields than `max_rows` rows."""
        self.check_field_budget(body, max_rows)
        adapter = self._requests.get(max_rows)
        if adapter is None:
            instances = Annotated[
                list[self._row_type],  # type: ignore[name-defined]
                Field(min_length=1, max_length=max_rows),
            ]
            request_type: Any = _typed_dict("PredictRequest", {ROWS_KEY: instances})
            request_type.__pydantic_config__ = ConfigDict(extra="forbid")
            adapter = self._requests[max_rows] = TypeAdapter(request_type)
        try:
            request: dict[str, Any] = adapter.validate_json(body)
        except ValidationError as exc:
            errors = validation_errors(exc)
            kinds = {(e["type"], e["loc"][:1]) for e in errors}
            if any(kind == "json_invalid" for kind, _ in kinds):
                raise MalformedRequest("body is not JSON") from None
            if ("too_long", (ROWS_KEY,)) in kinds:
                raise PayloadTooLarge(
                    f"more than {max_rows} rows", reason="too_many_rows"
                ) from None
            details = _describe(errors, prefix=ROWS_KEY)
            if ("extra_forbidden", (COLUMNS_KEY,)) in kinds:
                if ("missing", (ROWS_KEY,)) in kinds:
                    raise ColumnarBody from None
                details = [BOTH_FORMATS, *(d for d in details if d["field"] != COLUMNS_KEY)]
            raise SchemaMismatch(f"{exc.error_count()} schema violation(s)", details) from None
        rows: list[dict[str, Any]] = request[ROWS_KEY]
        return rows

    def to_input(self, rows: Sequence[dict[str, Any]]) -> np.ndarray | pd.DataFrame:
        """What the estimator is called with for validated rows."""
        if self.input_format == "dataframe":
            return self.to_frame(rows)
        return self.to_matrix(rows)

    def matrix_input(self, matrix: np.ndarray) -> np.ndarray | pd.DataFrame:
        """The estimator's input for an object matrix in feature order (NaN for null), as
        to_input would build it from the same rows: for probing a model, not for serving."""
        if self.input_format != "dataframe":
            return matrix
        rows = [
            {
                name: None if _is_nan(value) else value
                for name, value in zip(self.names, row, strict=True)
            }
            for row in matrix.tolist()
        ]
        return self.to_frame(rows)

    def to_matrix(self, rows: Sequence[dict[str, Any]]) -> np.ndarray:
        """Object matrix in feature order: the input the ColumnTransformer was fitted on.
        A null (nullable features only) is NaN, what pandas reads a missing value as."""
        names = self.names
        matrix = np.array([[row[n] for n in names] for row in rows], dtype=object)
        for index in self._nullable:
            column = matrix[:, index]
            column[np.array([v is None for v in column], dtype=bool)] = np.nan
        return matrix

    def to_frame(self, rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
        """DataFrame with the fitted column names, in order, each with its fitted dtype."""
        if self._layout is None:
            raise TypeError(f"an {self.input_format} model takes no DataFrame")
        return self._layout.frame(rows)

    def columns_input(self, columns: Mapping[str, list[Any]]) -> np.ndarray | pd.DataFrame:
        """What the estimator is called with for validated columns of equal length: what
        to_input builds from the same values as rows, without a dict per row."""
        if self._layout is not None:
            return self._layout.frame_from_columns(columns)
        return self.columns_matrix(columns)

    def columns_matrix(self, columns: Mapping[str, list[Any]]) -> np.ndarray:
        """to_matrix for columns: the object matrix filled column by column (each keeps its
        own Python values), a null as NaN."""
        names = self.names
        matrix = np.empty((len(columns[names[0]]), len(names)), dtype=object)
        for index, name in enumerate(names):
            matrix[:, index] = columns[name]
        for index in self._nullable:
            values = columns[names[index]]
            if None in values:
                matrix[[v is None for v in values], index] = np.nan
        return matrix

    def columns_out_of_range(self, columns: Mapping[str, list[Any]]) -> int:
        """count_out_of_range for columns: one float array, a column per row of it."""
        if not self._numeric_names:
            return 0
        values = np.array([columns[n] for n in self._numeric_names], dtype=float)
        with np.errstate(invalid="ignore"):
            outside = (values < self._low[:, None]) | (values > self._high[:, None])
        return int(outside.sum())

    def count_out_of_range(self, rows: Sequence[dict[str, Any]]) -> int:
        """Numeric values of validated rows outside the training range: served, but worth a
        metric (drift). Nulls are not counted (NaN compares false). One float array from
        the rows, whatever the model's input format: per-column pandas access costs more
        than the prediction of a small model."""
        if not self._numeric_names or not rows:
            return 0
        names = self._numeric_names
        values = np.array([[row[n] for n in names] for row in rows], dtype=float)
        with np.errstate(invalid="ignore"):
            outside = (values < self._low) | (values > self._high)
        return int(outside.sum())


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value


def _commas_per_row(features: Sequence[FeatureSpec]) -> int:
    """Commas one valid row holds at most, spelled the way json.dumps spells it: one after
    each pair (the last separates rows), plus any in a name or in its longest category."""

    def commas(feature: FeatureSpec) -> int:
        spellings = [json.dumps(c) for c in feature.categories or ()] or ["0"]
        return 1 + json.dumps(feature.name).count(",") + max(v.count(",") for v in spellings)

    return sum(commas(f) for f in features)


def validation_errors(exc: ValidationError) -> list[Any]:
    """The errors, built once (each one costs): no input values, URLs or contexts."""
    return exc.errors(include_url=False, include_input=False, include_context=False)


def echoed_field(part: Any) -> Any:
    if isinstance(part, str) and len(part) > MAX_ECHOED_FIELD:
        return part[: MAX_ECHOED_FIELD - 3] + "..."
    return part


def _describe(errors: list[Any], prefix: str | None = None) -> list[dict[str, Any]]:
    """Pydantic errors of rows (under `prefix`, the envelope's key, when there is one) as
    {row, field, type, message}; the input value is not echoed back."""

    def place(loc: tuple[Any, ...]) -> tuple[int | None, Any] | None:
        if prefix is not None:
            if not loc or loc[0] != prefix or len(loc) == 1:
                return None  # the envelope: not an object, `instances` missing or not a list
            loc = loc[1:]
        row = loc[0] if loc and isinstance(loc[0], int) else None
        return row, echoed_field(loc[1]) if len(loc) > 1 else None

    return describe_errors(errors, place)


# (an error's location) -> its (row, field), or None for the envelope around the rows.
Place = Callable[[tuple[Any, ...]], "tuple[int | None, Any] | None"]


def describe_errors(errors: list[Any], place: Place) -> list[dict[str, Any]]:
    """At most MAX_DETAILS errors as {row, field, type, message}, one per (row, field): a
    union reports each failed member. An envelope error names its dotted location."""
    described: list[dict[str, Any]] = []
    seen: set[tuple[Any, Any]] = set()
    for error in errors:
        where = place(error["loc"])
        if where is None:
            dotted = echoed_field(".".join(str(part) for part in error["loc"])) or None
            described.append(detail(None, dotted, error))
        elif where not in seen:
            seen.add(where)
            described.append(detail(*where, error))
        if len(described) >= MAX_DETAILS:
            break
    return described


def detail(row: int | None, field: Any, error: Any) -> dict[str, Any]:
    """One pydantic error as {row, field, type, message}; int and float type errors read as
    one `number_type`, whatever the feature's number kind."""
    kind, message = error["type"], error["msg"]
    if kind in {"int_type", "float_type"}:
        kind, message = "number_type", "Input should be a number"
    return {"row": row, "field": field, "type": kind, "message": message}
