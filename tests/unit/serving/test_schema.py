import json

import pytest

from modelship.errors import MalformedRequest, PayloadTooLarge, SchemaMismatch
from modelship.registry.manifest import FeatureSpec
from modelship.serving.schema import RowSchema

FEATURES = (
    FeatureSpec(name="tenure_months", kind="numeric", dtype="int", min=0, max=72),
    FeatureSpec(name="monthly_charges", kind="numeric", dtype="float", min=18, max=120),
    FeatureSpec(
        name="contract",
        kind="categorical",
        dtype="str",
        categories=("month_to_month", "one_year", "two_year"),
    ),
)
VALID = {"tenure_months": 12, "monthly_charges": 70.5, "contract": "one_year"}


@pytest.fixture
def schema() -> RowSchema:
    return RowSchema(FEATURES)


def test_valid_rows_become_a_matrix_in_feature_order(schema: RowSchema) -> None:
    reordered = {"contract": "two_year", "monthly_charges": 20, "tenure_months": 3}

    rows = schema.validate([VALID, reordered])
    matrix = schema.to_matrix(rows)

    assert matrix.shape == (2, 3)
    assert matrix.dtype == object
    assert list(matrix[1]) == [3, 20, "two_year"]


@pytest.mark.parametrize(
    ("row", "field", "kind"),
    [
        ({k: v for k, v in VALID.items() if k != "contract"}, "contract", "missing"),
        ({**VALID, "monthly_charges": "70.5"}, "monthly_charges", "number_type"),
        ({**VALID, "tenure_months": True}, "tenure_months", "number_type"),
        ({**VALID, "tenure_months": float("nan")}, "tenure_months", "finite_number"),
        ({**VALID, "contract": "three_year"}, "contract", "literal_error"),
        ({**VALID, "customer_id": "c-1"}, "customer_id", "extra_forbidden"),
        ({**VALID, "tenure_months": None}, "tenure_months", "number_type"),
    ],
)
def test_violations_name_row_and_field(
    schema: RowSchema, row: dict[str, object], field: str, kind: str
) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        schema.validate([VALID, row])

    assert caught.value.errors[0]["row"] == 1
    assert caught.value.errors[0]["field"] == field
    assert caught.value.errors[0]["type"] == kind


def test_one_error_per_field_even_for_union_types(schema: RowSchema) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        schema.validate([{**VALID, "monthly_charges": "x"}])

    assert len(caught.value.errors) == 1


def test_error_details_do_not_echo_the_input(schema: RowSchema) -> None:
    secret = "4111-1111-1111-1111"
    with pytest.raises(SchemaMismatch) as caught:
        schema.validate([{**VALID, "contract": secret}])

    assert secret not in repr(caught.value.errors)


def test_row_that_is_not_an_object_is_rejected(schema: RowSchema) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        schema.validate([VALID, [1, 2, 3]])

    assert caught.value.errors[0]["row"] == 1


def test_json_schema_lists_allowed_categories_and_required_fields(schema: RowSchema) -> None:
    document = schema.json_schema()

    assert document["properties"]["contract"]["enum"] == [
        "month_to_month",
        "one_year",
        "two_year",
    ]
    assert set(document["required"]) == {"tenure_months", "monthly_charges", "contract"}
    assert document["additionalProperties"] is False


def test_out_of_training_range_values_are_counted(schema: RowSchema) -> None:
    rows = schema.validate([VALID, {**VALID, "tenure_months": 100, "monthly_charges": 5}])

    assert schema.count_out_of_range(rows) == 2
    assert schema.count_out_of_range([{**VALID, "tenure_months": 1, "monthly_charges": 20.0}]) == 0


def test_request_body_is_parsed_and_validated_in_one_pass(schema: RowSchema) -> None:
    body = json.dumps({"instances": [VALID, VALID]})

    rows = schema.parse_request(body, max_rows=10)

    assert rows == [VALID, VALID]


@pytest.mark.parametrize(
    ("body", "error", "code"),
    [
        ('{"instances": [', MalformedRequest, "malformed_json"),
        (json.dumps({"instances": [VALID] * 4}), PayloadTooLarge, "too_many_rows"),
        (json.dumps({"rows": [VALID]}), SchemaMismatch, "schema_mismatch"),
        (json.dumps({"instances": []}), SchemaMismatch, "schema_mismatch"),
        (json.dumps([VALID]), SchemaMismatch, "schema_mismatch"),
    ],
)
def test_request_envelope_errors(
    schema: RowSchema, body: str, error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as caught:
        schema.parse_request(body, max_rows=3)

    assert caught.value.reason == code  # type: ignore[attr-defined]


def test_row_errors_in_a_body_name_row_and_field(schema: RowSchema) -> None:
    body = json.dumps({"instances": [VALID, {**VALID, "contract": "weekly"}]})

    with pytest.raises(SchemaMismatch) as caught:
        schema.parse_request(body, max_rows=10)

    assert caught.value.errors == [
        {
            "row": 1,
            "field": "contract",
            "type": "literal_error",
            "message": "Input should be 'month_to_month', 'one_year' or 'two_year'",
        }
    ]
