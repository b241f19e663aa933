"""The real predict handler serving models fitted outside modelship: a DataFrame pipeline
with an imputer and nullable features, a multi-class classifier, a thresholded classifier
(labels by its predict), regressors (one and two outputs), a predict-only classifier, and an
unscorable value in a DataFrame model. Answers equal the estimator's own output on the
original data, and match the OpenAPI document."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, PolynomialFeatures, StandardScaler
from sklearn.svm import LinearSVC

from modelship.packaging.packager import package
from modelship.registry.manifest import FeatureSpec
from modelship.registry.registry import Registry
from modelship.sample_events import http_api_event, load_event
from tests.conftest import BUCKET
from tests.hand_built_models import write_model_dir
from tests.integration.conftest import Invoke
from tests.integration.openapi_contract import assert_documented

FRAME_FEATURES = (
    FeatureSpec(name="age", kind="numeric", dtype="int", frame_dtype="int64", min=18, max=80),
    FeatureSpec(name="income", kind="numeric", dtype="float", frame_dtype="float64", nullable=True),
    FeatureSpec(
        name="city",
        kind="categorical",
        dtype="str",
        categories=("lyon", "paris", "rome"),
        frame_dtype="str",
        nullable=True,
    ),
)
ARRAY_FEATURES = (
    FeatureSpec(name="x1", kind="numeric", dtype="float"),
    FeatureSpec(name="x2", kind="numeric", dtype="float"),
)


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(3000, 800, n),
            "city": pd.Series(rng.choice(["lyon", "paris", "rome"], n), dtype="str"),
        }
    )
    frame.loc[::5, "income"] = np.nan
    frame.loc[::7, "city"] = np.nan
    return frame


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "age": int(age),
            "income": None if pd.isna(income) else float(income),
            "city": None if pd.isna(city) else str(city),
        }
        for age, income, city in zip(frame["age"], frame["income"], frame["city"], strict=True)
    ]


def _frame_pipeline(final: Any) -> Any:
    return make_pipeline(
        ColumnTransformer(
            [
                ("numbers", make_pipeline(SimpleImputer(), StandardScaler()), ["age", "income"]),
                (
                    "city",
                    make_pipeline(
                        SimpleImputer(strategy="most_frequent"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    ["city"],
                ),
            ]
        ),
        final,
    )


ARRAY_X = np.random.default_rng(5).normal(size=(40, 2))


@pytest.fixture
def serve(s3: Any, tmp_path: Path, start_function: Callable[..., Invoke]) -> Callable[..., Invoke]:
    def publish_and_start(model: Any, **options: Any) -> Invoke:
        manifest = write_model_dir(model, tmp_path / "model", **options)
        Registry(s3, BUCKET).publish(tmp_path / "model")
        return start_function(MODEL_NAME="byo", MODEL_SHA256=manifest.artifact.sha256)

    return publish_and_start


def _predict(function: Invoke, rows: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    """The row answer, checked against the document and against the columnar answer to
    the same values (same predictions; the same probabilities as a matrix)."""
    response = function(http_api_event("POST", "/predict", json.dumps({"instances": rows})))
    assert response["statusCode"] == 200, response["body"][:500]
    document = json.loads(function(load_event("openapi"))["body"])
    assert_documented(document, "/predict", "POST", response)
    body = json.loads(response["body"])
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    by_column = function(http_api_event("POST", "/predict", json.dumps({"columns": columns})))
    assert by_column["statusCode"] == 200, by_column["body"][:500]
    assert_documented(document, "/predict", "POST", by_column)
    columnar = json.loads(by_column["body"])
    assert columnar["predictions"] == body["predictions"]
    if "probabilities" in body:
        matrix = columnar["probabilities"]
        assert [dict(zip(columnar["classes"], row, strict=True)) for row in matrix] == (
            body["probabilities"]
        )
    else:
        assert not {"classes", "probabilities"} & set(columnar)
    return body, document


def _info(function: Invoke) -> dict[str, Any]:
    response = function(load_event("model_info"))
    assert response["statusCode"] == 200
    info: dict[str, Any] = json.loads(response["body"])
    return info


def test_a_dataframe_pipeline_with_nulls_answers_its_own_probabilities(
    serve: Callable[..., Invoke],
) -> None:
    frame = _frame()
    target = np.where(frame["age"] > 45, "stay", "leave")
    model = _frame_pipeline(LogisticRegression()).fit(frame, target)
    function = serve(
        model, features=FRAME_FEATURES, task="classification", input_format="dataframe"
    )

    body, document = _predict(function, _frame_rows(frame))

    expected = model.predict_proba(frame)
    served = np.array([[p["leave"], p["stay"]] for p in body["probabilities"]])
    assert np.array_equal(served, expected)  # bit for bit, through JSON
    assert body["predictions"] == model.predict(frame).tolist()
    response_schema = document["components"]["schemas"]["PredictResponse"]
    assert response_schema["properties"]["predictions"]["items"] == {"enum": ["leave", "stay"]}
    assert set(response_schema["properties"]["probabilities"]["items"]["required"]) == {
        "leave",
        "stay",
    }
    info = _info(function)
    assert info["input_format"] == "dataframe"
    assert info["output"]["classes"] == ["leave", "stay"]
    assert info["artifact"]["format"] == "joblib"
    assert info["origin"] == "packaged"


def test_a_multi_class_model_answers_one_probability_per_class(
    serve: Callable[..., Invoke],
) -> None:
    target = np.digitize(ARRAY_X[:, 0], [-0.5, 0.5])  # classes 0, 1, 2
    model = RandomForestClassifier(n_estimators=10, random_state=0).fit(ARRAY_X, target)
    function = serve(model, features=ARRAY_FEATURES, task="classification")
    rows = [{"x1": float(a), "x2": float(b)} for a, b in ARRAY_X]

    body, _ = _predict(function, rows)

    served = np.array([[p["0"], p["1"], p["2"]] for p in body["probabilities"]])
    assert np.array_equal(served, model.predict_proba(ARRAY_X))
    assert body["predictions"] == model.predict(ARRAY_X).tolist()


def test_a_thresholded_classifier_answers_its_predict_not_the_most_probable_class(
    s3: Any, tmp_path: Path, start_function: Callable[..., Invoke]
) -> None:
    frame = _frame()
    target = np.where(frame["age"] > 45, "stay", "leave")
    model = FixedThresholdClassifier(
        _frame_pipeline(LogisticRegression()), threshold=0.9, pos_label="stay"
    ).fit(frame, target)
    expected = model.predict(frame)
    most_probable = model.classes_[model.predict_proba(frame).argmax(axis=1)]
    assert (expected != most_probable).any()  # the labels tell the rules apart
    manifest = package(model, frame, name="byo", version="v1", out=tmp_path / "m")
    Registry(s3, BUCKET).publish(tmp_path / "m")
    function = start_function(MODEL_NAME="byo", MODEL_SHA256=manifest.artifact.sha256)

    body, _ = _predict(function, _frame_rows(frame))

    assert body["predictions"] == expected.tolist()
    assert manifest.labels == "predict"
    served = np.array([[p["leave"], p["stay"]] for p in body["probabilities"]])
    assert np.array_equal(served, model.predict_proba(frame))
    info = _info(function)
    assert (info["labels"], info["output"]["labels"]) == ("predict", "predict")
    assert "predict" in info["output"]["predictions"]


def test_a_regressor_answers_floats(serve: Callable[..., Invoke]) -> None:
    frame = _frame()
    target = frame["age"] * 2.5 + 1.0
    model = _frame_pipeline(Ridge()).fit(frame, target)
    function = serve(model, features=FRAME_FEATURES, task="regression", input_format="dataframe")

    body, document = _predict(function, _frame_rows(frame))

    assert body["predictions"] == model.predict(frame).tolist()
    assert "probabilities" not in body
    response_schema = document["components"]["schemas"]["PredictResponse"]
    assert "probabilities" not in response_schema["properties"]
    assert response_schema["properties"]["predictions"]["items"] == {"type": "number"}
    assert _info(function)["output"]["values_per_row"] == 1


def test_a_two_output_regressor_answers_a_list_per_row(serve: Callable[..., Invoke]) -> None:
    targets = np.column_stack([ARRAY_X[:, 0] * 2, ARRAY_X[:, 1] - 1])
    model = LinearRegression().fit(ARRAY_X, targets)
    function = serve(model, features=ARRAY_FEATURES, task="regression")
    rows = [{"x1": float(a), "x2": float(b)} for a, b in ARRAY_X]

    body, document = _predict(function, rows)

    assert body["predictions"] == model.predict(ARRAY_X).tolist()
    assert all(len(p) == 2 for p in body["predictions"])
    items = document["components"]["schemas"]["PredictResponse"]["properties"]["predictions"]
    assert items["items"]["maxItems"] == 2


def test_a_predict_only_model_answers_its_labels_as_is(serve: Callable[..., Invoke]) -> None:
    labels = np.where(ARRAY_X[:, 0] > 0, "up", "down")
    model = LinearSVC().fit(ARRAY_X, labels)
    function = serve(model, features=ARRAY_FEATURES, task="predict_only")
    rows = [{"x1": float(a), "x2": float(b)} for a, b in ARRAY_X]

    body, document = _predict(function, rows)

    assert body["predictions"] == model.predict(ARRAY_X).tolist()
    assert "probabilities" not in body
    items = document["components"]["schemas"]["PredictResponse"]["properties"]["predictions"]
    assert items["items"] == {"type": "string"}
    assert _info(function)["output"]["task"] == "predict_only"


def test_a_value_a_dataframe_model_cannot_score_is_a_422_naming_the_field(
    serve: Callable[..., Invoke],
) -> None:
    frame = _frame()
    squares = make_pipeline(SimpleImputer(), PolynomialFeatures(2), StandardScaler())
    model = make_pipeline(
        ColumnTransformer(
            [
                ("numbers", squares, ["age", "income"]),
                ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ]
        ),
        LogisticRegression(),
    ).fit(frame.fillna({"city": "lyon"}), frame["age"] > 45)
    function = serve(
        model, features=FRAME_FEATURES, task="classification", input_format="dataframe"
    )
    rows = _frame_rows(frame.head(3))
    rows[2]["income"] = 1e308  # squared into infinity

    response = function(http_api_event("POST", "/predict", json.dumps({"instances": rows})))

    assert response["statusCode"] == 422, response["body"][:300]
    details = json.loads(response["body"])["error"]["details"]
    assert {(d["row"], d["field"]) for d in details} == {(2, "income")}
