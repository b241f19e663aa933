"""The columnar format: `{"columns": {...}}` validated with the row format's rules and limits,
shaped into the same estimator input as the same values sent as rows."""

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from modelship.errors import MalformedRequest, PayloadTooLarge, SchemaMismatch
from modelship.registry.manifest import FeatureSpec
from modelship.serving.columns import Columns, ColumnSchema, is_columnar
from modelship.serving.schema import ColumnarBody, RowSchema
from tests.unit.serving.frame_features import FEATURES as FRAME_FEATURES

FEATURES = (
    FeatureSpec(name="tenure", kind="numeric", dtype="int", min=0, max=72),
    FeatureSpec(name="charges", kind="numeric", dtype="float", min=18, max=120, nullable=True),
    FeatureSpec(
        name="plan", kind="categorical", dtype="str", categories=("basic", "pro"), nullable=True
    ),
    FeatureSpec(name="region", kind="categorical", dtype="str", categories=("eu", "us")),
)
COLUMNS: dict[str, list[Any]] = {
    "tenure": [3, 80, 12],
    "charges": [20.5, None, 10],
    "plan": ["pro", None, "basic"],
    "region": ["eu", "us", "us"],
}
ROWS = [dict(zip(COLUMNS, values, strict=True)) for values in zip(*COLUMNS.values(), strict=True)]


@pytest.fixture
def schema() -> RowSchema:
    return RowSchema(FEATURES)


@pytest.fixture
def parser(schema: RowSchema) -> ColumnSchema:
    return ColumnSchema(schema)


def _body(columns: Any, **envelope: Any) -> str:
    return json.dumps({"columns": columns, **envelope})


def _refused(parser: ColumnSchema, body: str | bytes, max_rows: int = 10) -> list[dict[str, Any]]:
    with pytest.raises(SchemaMismatch) as caught:
        parser.parse_request(body, max_rows)
    errors: list[dict[str, Any]] = caught.value.errors
    return errors


def test_valid_columns_are_kept_in_schema_order_with_their_row_count(
    parser: ColumnSchema,
) -> None:
    reordered = {name: COLUMNS[name] for name in reversed(list(COLUMNS))}

    columns = parser.parse_request(_body(reordered).encode(), 10)

    assert columns.rows == 3
    assert list(columns.values) == ["tenure", "charges", "plan", "region"]
    assert columns.values == COLUMNS


def test_columns_make_the_matrix_rows_make(schema: RowSchema, parser: ColumnSchema) -> None:
    columns = parser.parse_request(_body(COLUMNS), 10)

    by_columns = schema.columns_input(columns.values)
    by_rows = schema.to_input(schema.validate(ROWS))

    assert isinstance(by_columns, np.ndarray)
    assert by_columns.dtype == object
    assert by_columns.shape == (3, 4)
    assert repr(by_columns.tolist()) == repr(by_rows.tolist())  # NaN for each null, alike
    assert np.isnan(by_columns[1, 1])
    assert np.isnan(by_columns[1, 2])
    assert columns.values["charges"][1] is None  # the request's own lists are not changed


def test_out_of_range_values_are_counted_as_for_rows(
    schema: RowSchema, parser: ColumnSchema
) -> None:
    columns = parser.parse_request(_body(COLUMNS), 10)

    # tenure 80 > 72 and charges 10 < 18; the null is not counted
    assert schema.columns_out_of_range(columns.values) == 2
    assert schema.count_out_of_range(schema.validate(ROWS)) == 2


def test_rows_are_rebuilt_for_capture_without_excluded_fields() -> None:
    columns = Columns(dict(COLUMNS), 3)

    assert columns.instances() == ROWS
    assert columns.instances({"plan"}) == [
        {k: v for k, v in row.items() if k != "plan"} for row in ROWS
    ]


@pytest.mark.parametrize(
    ("change", "row", "field", "kind"),
    [
        ({"tenure": [3, "12", 1]}, 1, "tenure", "number_type"),
        ({"tenure": [3, True, 1]}, 1, "tenure", "number_type"),
        ({"tenure": [3, 1, None]}, 2, "tenure", "number_type"),  # not nullable
        ({"region": ["eu", "asia", "us"]}, 1, "region", "literal_error"),
        ({"region": ["eu", "us", None]}, 2, "region", "literal_error"),
        ({"tenure": [3, 1, 1.5e400]}, 2, "tenure", "finite_number"),
        ({"tenure": 3}, None, "tenure", "list_type"),
        ({"tenure": []}, None, "tenure", "too_short"),
        ({"coupon": [1, 2, 3]}, None, "coupon", "extra_forbidden"),
    ],
)
def test_a_value_or_column_that_breaks_the_schema_is_named_by_row_and_field(
    parser: ColumnSchema, change: dict[str, Any], row: int | None, field: str, kind: str
) -> None:
    errors = _refused(parser, _body({**COLUMNS, **change}).replace("Infinity", "1.5e400"))

    assert (errors[0]["row"], errors[0]["field"], errors[0]["type"]) == (row, field, kind)
    assert len(errors) == 1


def test_nan_and_infinity_are_refused(parser: ColumnSchema) -> None:
    for value in ("NaN", "Infinity", "-Infinity"):
        body = _body(COLUMNS).replace("20.5", value)

        errors = _refused(parser, body)

        assert (errors[0]["row"], errors[0]["field"]) == (0, "charges"), value


def test_a_missing_column_is_named(parser: ColumnSchema) -> None:
    errors = _refused(parser, _body({k: v for k, v in COLUMNS.items() if k != "plan"}))

    assert errors == [
        {"row": None, "field": "plan", "type": "missing", "message": "Field required"}
    ]


def test_columns_of_unequal_length_name_the_one_that_differs(parser: ColumnSchema) -> None:
    errors = _refused(parser, _body({**COLUMNS, "charges": [20.5, 30.0]}))

    assert [(e["row"], e["field"], e["type"]) for e in errors] == [
        (None, "charges", "column_length")
    ]
    assert "2 values" in errors[0]["message"]
    assert "3" in errors[0]["message"]


def test_with_two_lengths_alike_the_first_features_length_is_the_reference(
    parser: ColumnSchema,
) -> None:
    columns = {"tenure": [1], "charges": [20.5], "plan": ["pro", "pro"], "region": ["eu", "us"]}

    errors = _refused(parser, _body(columns))

    assert {e["field"] for e in errors} == {"plan", "region"}


def test_a_body_with_both_formats_is_refused(schema: RowSchema, parser: ColumnSchema) -> None:
    body = _body(COLUMNS, instances=ROWS)

    errors = _refused(parser, body)
    with pytest.raises(SchemaMismatch) as by_rows:
        schema.parse_request(json.dumps({"instances": ROWS, "columns": COLUMNS}), 10)

    assert errors[0]["type"] == by_rows.value.errors[0]["type"] == "both_formats"
    assert len(by_rows.value.errors) == 1


def test_the_row_parser_hands_a_body_with_columns_only_to_the_columnar_parser(
    schema: RowSchema,
) -> None:
    with pytest.raises(ColumnarBody):
        schema.parse_request(json.dumps({"columns": COLUMNS}), 10)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"columns": {}}', True),
        (b' \n{ "columns":{}}', True),
        ('{"instances": [], "columns": {}}', False),
        ('["columns"]', False),
        ('{"column": {}}', False),
    ],
)
def test_a_columnar_body_is_told_by_its_first_key(body: str | bytes, expected: bool) -> None:
    assert is_columnar(body) is expected


def test_more_rows_than_allowed_is_413(parser: ColumnSchema) -> None:
    columns = {name: values * 4 for name, values in COLUMNS.items()}  # 12 rows

    with pytest.raises(PayloadTooLarge) as caught:
        parser.parse_request(_body(columns), 10)

    assert caught.value.reason == "too_many_rows"


def test_more_commas_than_the_row_budget_is_413_before_parsing(parser: ColumnSchema) -> None:
    body = _body({**COLUMNS, "tenure": [1] * 5000})

    with pytest.raises(PayloadTooLarge) as caught:
        parser.parse_request(body, 10)

    assert caught.value.reason == "too_many_fields"


def test_the_largest_valid_columnar_body_is_within_the_budget(parser: ColumnSchema) -> None:
    columns = {name: (values * 400)[:1000] for name, values in COLUMNS.items()}

    assert parser.parse_request(_body(columns), 1000).rows == 1000


@pytest.mark.parametrize(
    ("body", "field"),
    [("[]", None), ('{"columns": []}', "columns"), ('{"columns": {}, "extra": 1}', "extra")],
)
def test_an_envelope_that_is_not_columns_of_a_model_is_422(
    parser: ColumnSchema, body: str, field: str | None
) -> None:
    errors = _refused(parser, body)

    assert field in {e["field"] for e in errors}


def test_a_body_that_is_not_json_is_400(parser: ColumnSchema) -> None:
    with pytest.raises(MalformedRequest):
        parser.parse_request('{"columns": {"tenure": [1,', 10)


def test_the_json_schema_lists_one_array_per_feature(parser: ColumnSchema) -> None:
    schema = parser.json_schema(1000)

    columns = schema["properties"]["columns"]
    assert schema["required"] == ["columns"]
    assert columns["required"] == ["tenure", "charges", "plan", "region"]
    assert columns["properties"]["region"]["items"]["enum"] == ["eu", "us"]
    assert columns["properties"]["tenure"]["maxItems"] == 1000


FRAME_COLUMNS: dict[str, list[Any]] = {
    "tenure": [3, 7, 12],
    "charges": [20.5, None, 40.0],
    "plan": ["pro", None, "basic"],
    "region": ["eu", "us", "us"],
    "tier": ["gold", "silver", "gold"],
}


def test_a_dataframe_model_gets_the_frame_rows_would_make() -> None:
    schema = RowSchema(FRAME_FEATURES, "dataframe")
    columns = ColumnSchema(schema).parse_request(_body(FRAME_COLUMNS), 10)
    rows = [
        dict(zip(FRAME_COLUMNS, values, strict=True))
        for values in zip(*FRAME_COLUMNS.values(), strict=True)
    ]

    by_columns = schema.columns_input(columns.values)
    by_rows = schema.to_input(schema.validate(rows))

    assert isinstance(by_columns, pd.DataFrame)
    pd.testing.assert_frame_equal(by_columns, by_rows)
    assert str(by_columns["tenure"].dtype) == "int64"
    assert str(by_columns["tier"].dtype) == "category"


def test_a_dataframe_model_refuses_a_fraction_in_an_integer_column() -> None:
    schema = RowSchema(FRAME_FEATURES, "dataframe")

    errors = _refused(ColumnSchema(schema), _body({**FRAME_COLUMNS, "tenure": [3, 7.5, 12]}))

    assert (errors[0]["row"], errors[0]["field"]) == (1, "tenure")
