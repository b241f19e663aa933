"""What a fitted model is: refusals for what is not a fitted estimator, its task, its tree."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import BaggingRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelship.errors import PackagingError
from modelship.packaging.description import (
    check_estimator,
    describe_estimator,
    describe_task,
)
from modelship.training.training import current_runtime

X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])


class PredictsOnly:
    def predict(self, x: object) -> list[int]:
        return [0]


@pytest.mark.parametrize(
    ("model", "said"),
    [
        (PredictsOnly(), "without fit, get_params"),
        ({"weights": [1, 2]}, "a builtins.dict without fit, predict, get_params"),
        (LogisticRegression, "a class, not a fitted instance"),
    ],
)
def test_what_is_not_an_estimator_is_refused(model: object, said: str) -> None:
    with pytest.raises(PackagingError, match=said) as raised:
        check_estimator(model)

    assert raised.value.reason == "not_an_estimator"


def test_an_unfitted_estimator_is_refused() -> None:
    with pytest.raises(PackagingError, match="LogisticRegression is not fitted") as raised:
        check_estimator(LogisticRegression())

    assert raised.value.reason == "not_fitted"


def test_an_unfitted_pipeline_is_refused() -> None:
    with pytest.raises(PackagingError) as raised:
        check_estimator(Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]))

    assert raised.value.reason == "not_fitted"


def test_a_classifier_with_probabilities_is_classification_with_its_classes() -> None:
    model = LogisticRegression().fit(X, ["no", "yes", "no", "maybe"])

    task = describe_task(model)

    assert (task.task, task.classes) == ("classification", ("maybe", "no", "yes"))


def test_integer_classes_stay_integers() -> None:
    task = describe_task(LogisticRegression().fit(X, np.array([0, 1, 0, 1])))

    assert task.classes == (0, 1)
    assert all(type(c) is int for c in task.classes or ())


def test_a_classifier_without_probabilities_is_predict_only() -> None:
    model = RidgeClassifier().fit(X, [0, 1, 0, 1])

    assert describe_task(model).task == "predict_only"


def test_a_regressor_is_regression_and_a_clusterer_predict_only() -> None:
    assert describe_task(LinearRegression().fit(X, [0.0, 1.0, 2.0, 3.0])).task == "regression"
    kmeans = KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    assert describe_task(kmeans).task == "predict_only"


def test_the_tree_follows_steps_transformers_and_estimator_params() -> None:
    model = Pipeline(
        [
            (
                "features",
                ColumnTransformer(
                    [("scale", StandardScaler(), [0]), ("onehot", OneHotEncoder(), [1])]
                ),
            ),
            ("model", BaggingRegressor(estimator=LinearRegression(), n_estimators=3)),
        ]
    )

    info = describe_estimator(model)

    assert info.algorithm == "sklearn.ensemble.BaggingRegressor"
    assert info.params["n_estimators"] == 3
    tree = info.tree or {}
    assert tree["class"] == "sklearn.pipeline.Pipeline"
    features = tree["children"]["steps.features"]
    assert features["class"] == "sklearn.compose.ColumnTransformer"
    assert set(features["children"]) == {"transformers.scale", "transformers.onehot"}
    bagging = tree["children"]["steps.model"]
    assert bagging["children"]["estimator"]["class"] == "sklearn.linear_model.LinearRegression"
    assert bagging["children"]["estimator"]["params"]["fit_intercept"] is True


def test_the_runtime_names_the_libraries_of_this_environment() -> None:
    import pandas
    import sklearn

    runtime = current_runtime()

    assert runtime.sklearn == sklearn.__version__
    assert runtime.pandas == pandas.__version__
    assert runtime.scipy is not None
