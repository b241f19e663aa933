"""The columnar predict format: `{"columns": {"<feature>": [v0, v1, ...], ...}}`, one array per
feature, all of one length, answered with one array of predictions and one probability matrix
in the order of `classes`.

The row format's JSON object per row costs more to parse, and its answer's dict per row more
to encode, than a 1000-row prediction of a small model; columns avoid both. Every value obeys
the row format's rules (the same field types: strict numbers, categories, null only where
nullable) and the same limits (the field budget, `max_rows`), and a refusal names the row
(an index into the arrays) and the field as a row request's does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from modelship.errors import MalformedRequest, PayloadTooLarge, SchemaMismatch
from modelship.serving.schema import (
    BOTH_FORMATS,
    COLUMNS_KEY,
    MAX_DETAILS,
    ROWS_KEY,
    RowSchema,
    describe_errors,
    echoed_field,
    field_type,
    validation_errors,
)

# Built at run time from the manifest; typed as Any because checkers need literal TypedDicts.
_typed_dict: Any = TypedDict
# A valid columnar body has one key, so `columns` comes first; a body that names it later
# is found by the row parser's refusal (ColumnarBody) instead.
_FIRST_KEY_STR = re.compile(r'\s*\{\s*"columns"')
_FIRST_KEY_BYTES = re.compile(rb'\s*\{\s*"columns"')


def is_columnar(body: str | bytes) -> bool:
    """Whether the body's first key is `columns`: one regular-expression match at its start."""
    pattern: Any = _FIRST_KEY_BYTES if isinstance(body, bytes) else _FIRST_KEY_STR
    return pattern.match(body) is not None


@dataclass(frozen=True)
class Columns:
    """A validated columnar request: one list per feature, in the schema's order, each of
    `rows` values (None for a null)."""

    values: dict[str, list[Any]]
    rows: int

    def instances(self, excluded: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The same values as one dict per row (data capture builds them for the requests it
        samples, off the request path)."""
        skipped = set(excluded)
        names = [name for name in self.values if name not in skipped]
        columns = [self.values[name] for name in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


class ColumnSchema:
    """Parses columnar bodies for one model's RowSchema: one validating pass of pydantic's
    JSON parser over typed lists, then a check that every column has one length."""

    def __init__(self, schema: RowSchema) -> None:
        self.schema = schema
        self._types = {f.name: field_type(f) for f in schema.features}
        self._requests: dict[int, TypeAdapter[Any]] = {}

    def json_schema(self, max_rows: int) -> dict[str, Any]:
        """JSON schema of a columnar request, for the OpenAPI document: each feature's array
        holds the values a row's field takes."""
        instance = self.schema.json_schema()
        arrays = {
            name: {"type": "array", "items": value, "minItems": 1, "maxItems": max_rows}
            for name, value in instance["properties"].items()
        }
        columns = {
            "type": "object",
            "title": "Columns",
            "description": "One array per feature, every feature of the model, all of one "
            "length (one value per row).",
            "properties": arrays,
            "required": list(arrays),
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "title": "ColumnarPredictRequest",
            "properties": {COLUMNS_KEY: columns},
            "required": [COLUMNS_KEY],
            "additionalProperties": False,
        }

    def parse_request(self, body: str | bytes, max_rows: int) -> Columns:
        """Parses and validates a `{"columns": {...}}` body in one pass, once the body is
        known to hold no more fields than `max_rows` rows (the row format's budget: a
        columnar body spends fewer commas per row than a row body does)."""
        self.schema.check_field_budget(body, max_rows)
        try:
            request: dict[str, Any] = self._adapter(max_rows).validate_json(body)
        except ValidationError as exc:
            raise _refusal(exc, max_rows) from None
        values: dict[str, list[Any]] = request[COLUMNS_KEY]
        lengths = Counter(len(column) for column in values.values())
        if len(lengths) > 1:
            raise _unequal_lengths(values, lengths)
        return Columns(values, next(iter(lengths)))

    def _adapter(self, max_rows: int) -> TypeAdapter[Any]:
        adapter = self._requests.get(max_rows)
        if adapter is None:
            fields = {
                name: Annotated[list[kind], Field(min_length=1, max_length=max_rows)]  # type: ignore[valid-type]
                for name, kind in self._types.items()
            }
            columns_type: Any = _typed_dict("Columns", fields)
            columns_type.__pydantic_config__ = ConfigDict(extra="forbid")
            request_type: Any = _typed_dict("ColumnarPredictRequest", {COLUMNS_KEY: columns_type})
            request_type.__pydantic_config__ = ConfigDict(extra="forbid")
            adapter = self._requests[max_rows] = TypeAdapter(request_type)
        return adapter


def _refusal(exc: ValidationError, max_rows: int) -> Exception:
    errors = validation_errors(exc)
    if any(error["type"] == "json_invalid" for error in errors):
        return MalformedRequest("body is not JSON")
    if any(error["type"] == "too_long" and len(error["loc"]) == 2 for error in errors):
        return PayloadTooLarge(f"more than {max_rows} rows", reason="too_many_rows")
    return SchemaMismatch(f"{exc.error_count()} schema violation(s)", _describe(errors))


def _describe(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors as {row, field, type, message}: `("columns", field, row)` locations
    name both; a whole column (missing, not an array, empty) names its field alone; a body
    that also has `instances` says so first."""
    both = [e for e in errors if e["loc"] == (ROWS_KEY,) and e["type"] == "extra_forbidden"]
    rest = [e for e in errors if e not in both]
    described = describe_errors(rest, _place)
    return [BOTH_FORMATS, *described][:MAX_DETAILS] if both else described


def _place(loc: tuple[Any, ...]) -> tuple[int | None, Any] | None:
    if len(loc) < 2 or loc[0] != COLUMNS_KEY:
        return None  # the envelope: not an object, `columns` not an object, an unknown key
    row = loc[2] if len(loc) > 2 and isinstance(loc[2], int) else None
    return row, echoed_field(loc[1])


def _unequal_lengths(values: Mapping[str, list[Any]], lengths: Counter[int]) -> SchemaMismatch:
    """Names every column whose length is not the most common one (the first feature's
    length breaks a tie)."""
    first = len(next(iter(values.values())))
    common = max(lengths, key=lambda length: (lengths[length], length == first))
    details = [
        {
            "row": None,
            "field": name,
            "type": "column_length",
            "message": f"{len(column)} values where the other columns have {common}",
        }
        for name, column in values.items()
        if len(column) != common
    ][:MAX_DETAILS]
    return SchemaMismatch("columns of unequal length", details)
