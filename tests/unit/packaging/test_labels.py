"""A packaged classifier's labels are the ones its predict gives: served as the argmax of its
probabilities only for estimators whose predict is that argmax, by its own predict otherwise;
the smoke check compares what the service will answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import FixedThresholdClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from modelship.errors import PackagingError
from modelship.packaging.description import label_rule
from modelship.packaging.packager import package
from modelship.packaging.sample_schema import read_sample
from modelship.packaging.smoke_check import original_outputs, smoke_check


def _sample() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = (frame["a"] + rng.normal(scale=0.7, size=120) > 0).astype(int).to_numpy()
    return frame, y


def _thresholded() -> FixedThresholdClassifier:
    frame, y = _sample()
    return FixedThresholdClassifier(LogisticRegression(), threshold=0.9).fit(frame, y)


def test_a_thresholded_classifier_is_served_by_its_predict(tmp_path: Path) -> None:
    frame, y = _sample()
    model = _thresholded()
    argmax = model.classes_[model.predict_proba(frame).argmax(axis=1)]
    assert (argmax != model.predict(frame)).any()  # the case that matters

    manifest = package(model, frame.assign(y=y), name="t", target="y", out=tmp_path / "m")

    assert manifest.labels == "predict"
    # holdout metrics score the labels the service answers
    assert manifest.metrics["accuracy"] == accuracy_score(y, model.predict(frame))


def test_a_classifier_outside_the_argmax_list_is_served_by_its_predict(tmp_path: Path) -> None:
    frame, y = _sample()
    # what scikit-learn 1.9 says to use instead of SVC(probability=True)
    calibrated = CalibratedClassifierCV(SVC(), ensemble=False)
    model = make_pipeline(StandardScaler(), calibrated).fit(frame, y)

    assert package(model, frame, name="svc", out=tmp_path / "m").labels == "predict"


def test_a_gradient_boosting_pipeline_is_served_by_argmax(
    churn: pd.DataFrame, fitted_pipeline: Pipeline, tmp_path: Path
) -> None:
    assert package(fitted_pipeline, churn, name="churn", out=tmp_path / "m").labels == "argmax"


def test_the_examples_gradient_boosting_classifier_is_served_by_argmax(tmp_path: Path) -> None:
    # GradientBoostingClassifier predicts the positive class at a raw score of exactly 0,
    # where argmax picks the first: the service decides such ties with predict, so the cheap
    # argmax rule applies and the model is called once per request.
    frame, y = _sample()
    model = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(frame, y)

    assert package(model, frame, name="gbc", out=tmp_path / "m").labels == "argmax"


def test_a_listed_classifier_whose_predict_is_not_the_argmax_on_the_sample_uses_predict() -> None:
    frame, y = _sample()
    model = LogisticRegression().fit(frame, y)
    proba = model.predict_proba(frame)
    labels = model.predict(frame)

    assert label_rule(model, labels, proba) == "argmax"
    assert label_rule(model, 1 - labels, proba) == "predict"
    assert label_rule(make_pipeline(StandardScaler(), model), labels, proba) == "argmax"


class _Subclassed(LogisticRegression):
    """A subclass may override predict: only the listed classes themselves count."""


def test_a_subclass_of_a_listed_classifier_uses_predict() -> None:
    frame, y = _sample()
    model = _Subclassed().fit(frame, y)

    rule = label_rule(model, model.predict(frame), model.predict_proba(frame))

    assert rule == "predict"


def test_the_smoke_check_compares_the_labels_the_service_answers(tmp_path: Path) -> None:
    """A manifest serving the argmax of a thresholded classifier answers other labels than
    its predict: the smoke check refuses it."""
    frame, _ = _sample()
    model = _thresholded()
    manifest = package(model, frame, name="t", out=tmp_path / "m")
    sample = read_sample(model, frame)
    expected = original_outputs(model, sample, "classification")

    smoke_check(model, manifest, tmp_path / "m", sample, expected)  # as packaged: passes
    with pytest.raises(PackagingError, match="predictions differ") as raised:
        smoke_check(
            model,
            manifest.model_copy(update={"labels": "argmax"}),
            tmp_path / "m",
            sample,
            expected,
        )

    assert raised.value.reason == "smoke_mismatch"
