"""RowSchema.to_input for DataFrame models: fitted names, order and dtypes; JSON null for
nullable features; the estimator answers exactly what it answers on the original frame."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelship.errors import SchemaMismatch
from modelship.registry.manifest import FeatureSpec
from modelship.serving.schema import RowSchema
from tests.unit.serving.frame_features import FEATURES


@pytest.fixture
def schema() -> RowSchema:
    return RowSchema(FEATURES, "dataframe")


def _body(*rows: dict[str, object]) -> str:
    return json.dumps({"instances": list(rows)})


ROW = {"tenure": 3, "charges": 20.5, "plan": "pro", "region": "eu", "tier": "gold"}


def test_a_frame_has_the_fitted_columns_in_order_with_their_dtypes(schema: RowSchema) -> None:
    reordered = {"tier": "silver", "region": "us", "plan": "basic", "charges": 1, "tenure": 7}

    frame = schema.to_input(schema.parse_request(_body(ROW, reordered), max_rows=10))

    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["tenure", "charges", "plan", "region", "tier"]
    assert [str(t) for t in frame.dtypes] == ["int64", "float64", "object", "str", "category"]
    assert frame["tier"].cat.categories.tolist() == ["gold", "silver"]
    assert frame.iloc[1].tolist() == [7, 1.0, "basic", "us", "silver"]
    assert list(frame.index) == [0, 1]


def test_nulls_of_nullable_features_become_nan(schema: RowSchema) -> None:
    rows = schema.parse_request(_body(ROW, {**ROW, "charges": None, "plan": None}), max_rows=10)

    frame = schema.to_input(rows)

    assert frame["charges"].dtype == np.float64
    assert np.isnan(frame["charges"].iloc[1])
    assert frame["plan"].dtype == object
    assert frame["plan"].iloc[0] == "pro"
    assert frame["plan"].iloc[1] is np.nan


def test_null_is_refused_for_a_feature_that_is_not_nullable(schema: RowSchema) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        schema.parse_request(_body({**ROW, "region": None}), max_rows=10)

    assert caught.value.errors[0]["field"] == "region"


@pytest.mark.parametrize("value", [3.5, 2.0**63, -(2.0**64)])
def test_an_integer_column_refuses_fractions_and_overflow(schema: RowSchema, value: float) -> None:
    with pytest.raises(SchemaMismatch) as caught:
        schema.parse_request(_body({**ROW, "tenure": value}), max_rows=10)

    assert caught.value.errors[0]["field"] == "tenure"


def test_a_whole_float_fills_an_integer_column(schema: RowSchema) -> None:
    frame = schema.to_input(schema.parse_request(_body({**ROW, "tenure": 4.0}), max_rows=10))

    assert frame["tenure"].dtype == np.int64
    assert frame["tenure"].iloc[0] == 4


def test_a_null_in_a_nullable_integer_column_makes_it_float_as_pandas_does() -> None:
    spec = FeatureSpec(name="n", kind="numeric", dtype="int", frame_dtype="int64", nullable=True)
    other = FeatureSpec(name="m", kind="numeric", dtype="int", frame_dtype="int64")
    schema = RowSchema((spec, other), "dataframe")

    frame = schema.to_input([{"n": 1.0, "m": 2.0}, {"n": None, "m": 3.0}])

    assert frame["n"].dtype == np.float64
    assert np.isnan(frame["n"].iloc[1])
    assert frame["m"].dtype == np.int64
    assert list(frame.columns) == ["n", "m"]


def test_out_of_range_values_are_counted_on_a_dataframe_models_rows(schema: RowSchema) -> None:
    rows = schema.parse_request(_body(ROW, {**ROW, "tenure": 100, "charges": None}), max_rows=10)

    # a null is not out of range; 100 months is
    assert schema.count_out_of_range(rows) == 1


def test_array_models_keep_the_object_matrix_with_nan_for_null() -> None:
    features = tuple(f.model_copy(update={"frame_dtype": None}) for f in FEATURES)
    schema = RowSchema(features)

    matrix = schema.to_input([ROW, {**ROW, "charges": None, "plan": None}])

    assert isinstance(matrix, np.ndarray)
    assert matrix.dtype == object
    assert matrix[0].tolist() == [3, 20.5, "pro", "eu", "gold"]
    assert np.isnan(matrix[1, 1])
    assert np.isnan(matrix[1, 2])


def _training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 200
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(0, 72, n),
            "charges": rng.normal(60, 20, n),
            "plan": pd.Series(rng.choice(["basic", "pro"], n), dtype=object),
            "region": pd.Series(rng.choice(["eu", "us"], n), dtype="str"),
            "tier": pd.Categorical(rng.choice(["gold", "silver"], n)),
        }
    )
    frame.loc[::7, "charges"] = np.nan
    frame.loc[::11, "plan"] = np.nan
    return frame


def _pipeline() -> object:
    columns = ColumnTransformer(
        [
            ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), ["tenure", "charges"]),
            (
                "labels",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["plan", "region", "tier"],
            ),
        ]
    )
    return make_pipeline(columns, LogisticRegression())


def _as_requests(frame: pd.DataFrame) -> list[dict[str, object]]:
    records = frame.astype(object).to_dict("records")
    return [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in records]


@pytest.mark.parametrize(
    "model",
    [
        _pipeline(),
        HistGradientBoostingClassifier(max_iter=20, categorical_features="from_dtype"),
    ],
    ids=["imputer-onehot-logistic", "hist-gradient-boosting"],
)
def test_served_frames_score_exactly_like_the_training_frame(
    schema: RowSchema, model: object
) -> None:
    frame = _training_frame()
    target = (frame["tenure"] > 30).to_numpy()
    if isinstance(model, HistGradientBoostingClassifier):
        frame = frame.drop(columns=["plan", "region"])
        schema = RowSchema([f for f in FEATURES if f.name not in {"plan", "region"}], "dataframe")
    model.fit(frame, target)  # type: ignore[attr-defined]
    body = json.dumps({"instances": _as_requests(frame)})

    served = schema.to_input(schema.parse_request(body, max_rows=1000))

    expected = model.predict_proba(frame)  # type: ignore[attr-defined]
    assert np.array_equal(model.predict_proba(served), expected)  # type: ignore[attr-defined]
