"""The row schema inferred from a sample: names and order from the fitted model, kinds and
dtypes from the columns, ranges and categories from the values, overrides on top."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from modelship.errors import PackagingError
from modelship.packaging.sample_schema import read_sample, sample_rows


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30, 41, 52, 63],
            "income": [1.5, np.nan, 3.25, 4.0],
            "plan": ["basic", "pro", None, "basic"],
            "label": [0, 1, 0, 1],
        }
    )


def _fitted_on(frame: pd.DataFrame, columns: list[str]) -> LogisticRegression:
    model = LogisticRegression()
    model.fit(frame[columns].fillna(0), [0, 1, 0, 1])
    return model


def test_a_dataframe_model_takes_its_fitted_columns_in_fitted_order() -> None:
    sample = _frame()
    model = _fitted_on(sample, ["income", "age"])

    read = read_sample(model, sample, target="label")

    assert read.input_format == "dataframe"
    assert [f.name for f in read.features] == ["income", "age"]
    assert list(read.model_input.columns) == ["income", "age"]  # type: ignore[union-attr]
    assert read.target is not None
    assert read.target.tolist() == [0, 1, 0, 1]


def test_kinds_ranges_nullability_and_dtypes_come_from_the_columns() -> None:
    sample = _frame()
    model = LogisticRegression()
    model.feature_names_in_ = np.array(["age", "income", "plan"], dtype=object)

    features = {f.name: f for f in read_sample(model, sample, target="label").features}

    age, income, plan = features["age"], features["income"], features["plan"]
    assert (age.kind, age.dtype, age.min, age.max, age.nullable) == (
        "numeric",
        "int",
        30,
        63,
        False,
    )
    assert age.frame_dtype == "int64"
    assert (income.dtype, income.min, income.max, income.nullable) == ("float", 1.5, 4.0, True)
    assert income.frame_dtype == "float64"
    assert (plan.kind, plan.categories, plan.nullable) == ("categorical", ("basic", "pro"), True)
    assert plan.frame_dtype == str(sample["plan"].dtype)


def test_a_category_column_lists_its_declared_categories_sorted() -> None:
    sample = pd.DataFrame({"plan": pd.Categorical(["pro", "pro"], categories=["pro", "basic"])})
    model = LogisticRegression()
    model.feature_names_in_ = np.array(["plan"], dtype=object)

    (plan,) = read_sample(model, sample).features

    assert plan.categories == ("basic", "pro")
    assert plan.frame_dtype == "category"


def test_a_fitted_column_missing_from_the_sample_is_named() -> None:
    sample = _frame()
    model = _fitted_on(sample, ["age", "income"])

    with pytest.raises(PackagingError, match="lacks: income") as raised:
        read_sample(model, sample.drop(columns=["income"]))

    assert raised.value.reason == "invalid_sample"


def test_a_missing_target_column_is_named() -> None:
    with pytest.raises(PackagingError, match="no target column 'churned'"):
        read_sample(LogisticRegression(), _frame(), target="churned")


def test_a_bool_column_is_refused_with_what_to_do() -> None:
    sample = pd.DataFrame({"member": [True, False], "age": [1, 2]})

    with pytest.raises(PackagingError, match=r"'member' has dtype bool.*cast it") as raised:
        read_sample(LinearRegression(), sample)

    assert raised.value.reason == "unsupported_column"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ([1, "a"], "holds mixed-integer values"),
        ([None, None], "has no values"),
        ([1.0, np.inf], "infinite"),
        (pd.to_datetime(["2024-01-01", "2024-01-02"]), "has dtype datetime64"),
    ],
)
def test_columns_a_json_row_cannot_carry_are_refused(values: object, problem: str) -> None:
    sample = pd.DataFrame({"x": values})

    with pytest.raises(PackagingError, match=problem) as raised:
        read_sample(LinearRegression(), sample)

    assert raised.value.reason == "unsupported_column"


def test_an_array_sample_names_its_features_x0_to_xn() -> None:
    sample = np.array([[1.0, 2.0], [3.0, 4.5]])
    model = LinearRegression().fit(sample, [0.0, 1.0])

    read = read_sample(model, sample)

    assert read.input_format == "array"
    assert [f.name for f in read.features] == ["x0", "x1"]
    assert all(f.frame_dtype is None for f in read.features)
    assert read.model_input is sample


def test_overrides_naming_every_array_column_name_them_in_order() -> None:
    sample = np.array([[1.0, 2.0], [3.0, 4.5]])
    model = LinearRegression().fit(sample, [0.0, 1.0])

    read = read_sample(model, sample, columns={"height": {}, "weight": {"max": 10}})

    assert [f.name for f in read.features] == ["height", "weight"]
    assert read.features[1].max == 10


def test_a_width_that_differs_from_the_model_is_refused() -> None:
    model = LinearRegression().fit(np.ones((3, 3)), [0.0, 1.0, 2.0])

    with pytest.raises(PackagingError, match="takes 3 features; the sample has 2"):
        read_sample(model, np.ones((2, 2)))


def test_overrides_widen_ranges_categories_and_nullability() -> None:
    sample = _frame()
    model = LogisticRegression()
    model.feature_names_in_ = np.array(["age", "plan"], dtype=object)
    overrides = {
        "age": {"min": 0, "max": 120, "nullable": True},
        "plan": {"categories": ["basic", "pro", "enterprise"]},
    }

    age, plan = read_sample(model, sample, target="label", columns=overrides).features

    assert (age.min, age.max, age.nullable) == (0, 120, True)
    assert plan.categories == ("basic", "enterprise", "pro")


def test_integer_codes_may_become_categories() -> None:
    sample = pd.DataFrame({"region": [1, 2, 2, 3]})
    model = LinearRegression()
    model.feature_names_in_ = np.array(["region"], dtype=object)

    (region,) = read_sample(
        model,
        sample,
        columns={"region": {"kind": "categorical", "categories": ["1", "2", "3", "4"]}},
    ).features

    assert (region.kind, region.dtype, region.min, region.frame_dtype) == (
        "categorical",
        "str",
        None,
        "int64",
    )


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ({"plan": {"categories": ["basic"]}}, r"leaves out categories the sample has: \['pro'\]"),
        ({"plan": {"kind": "numeric"}}, "cannot be numeric"),
        ({"income": {"nullable": False}}, "must be nullable"),
        ({"income": {"categories": ["a"]}}, "categories do not apply"),
        ({"plan": {"min": 1}}, "min and max do not apply"),
        ({"age": {"colour": "red"}}, "colour: Extra inputs are not permitted"),
        ({"nope": {}}, "name 'nope', which the model does not take"),
    ],
)
def test_overrides_that_contradict_the_sample_are_refused(
    override: dict[str, object], problem: str
) -> None:
    model = LogisticRegression()
    model.feature_names_in_ = np.array(["age", "income", "plan"], dtype=object)

    with pytest.raises(PackagingError, match=problem) as raised:
        read_sample(model, _frame(), target="label", columns=override)

    assert raised.value.reason == "invalid_override"


def test_rows_carry_null_for_missing_values_and_plain_json_types() -> None:
    model = LogisticRegression()
    model.feature_names_in_ = np.array(["age", "income", "plan"], dtype=object)
    read = read_sample(model, _frame(), target="label")

    rows = sample_rows(read.frame, read.features)

    assert rows[1] == {"age": 41, "income": None, "plan": "pro"}
    assert rows[2] == {"age": 52, "income": 3.25, "plan": None}
    assert type(rows[0]["age"]) is int
