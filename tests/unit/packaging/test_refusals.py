"""Models `modelship.package` refuses, each with its reason and a message naming what is
wrong; a refusal writes nothing."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from modelship.errors import PackagingError
from modelship.packaging import dependencies
from modelship.packaging.packager import package

X = np.arange(40.0).reshape(20, 2)
Y = (X[:, 0] > 18).astype(int)


def _refusal(tmp_path: Path, model: object, sample: object, **options: object) -> PackagingError:
    out = tmp_path / "m"
    with pytest.raises(PackagingError) as raised:
        package(model, sample, name="m", out=out, **options)  # type: ignore[arg-type]
    assert not out.exists(), "a refused model left an output directory"
    assert not list(tmp_path.glob(".m.*")), "a refused model left its staging directory"
    return raised.value


def test_not_an_estimator(tmp_path: Path) -> None:
    refusal = _refusal(tmp_path, {"coef": [1.0]}, X)

    assert refusal.reason == "not_an_estimator"
    assert "without fit, predict, get_params" in str(refusal)


def test_an_unfitted_pipeline(tmp_path: Path) -> None:
    refusal = _refusal(tmp_path, make_pipeline(LogisticRegression()), X)

    assert refusal.reason == "not_fitted"
    assert "call fit(X, y) before packaging" in str(refusal)


def test_predict_failing_on_the_sample_names_the_exception(tmp_path: Path) -> None:
    frame = pd.DataFrame({"plan": ["basic", "pro", "basic", "pro"]})
    model = make_pipeline(OneHotEncoder(handle_unknown="error"), LogisticRegression()).fit(
        frame, [0, 1, 0, 1]
    )
    unseen = pd.DataFrame({"plan": ["basic", "enterprise"]})

    refusal = _refusal(tmp_path, model, unseen)

    assert refusal.reason == "predict_failed"
    assert "fails to predict on the sample: ValueError: Found unknown categories" in str(refusal)


def test_a_library_outside_the_layer_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed distribution (dist-info on sys.path), as pip would leave it.
    site = tmp_path / "site-packages"
    (site / "fancyfeatures").mkdir(parents=True)
    (site / "fancyfeatures" / "__init__.py").write_text(
        textwrap.dedent(
            """
            from sklearn.base import BaseEstimator, TransformerMixin

            class Clip(TransformerMixin, BaseEstimator):
                def fit(self, X, y=None):
                    return self

                def transform(self, X):
                    return X
            """
        )
    )
    info = site / "fancy_features-2.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-features\nVersion: 2.1\n")
    (info / "top_level.txt").write_text("fancyfeatures\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "fancyfeatures", raising=False)
    import fancyfeatures  # type: ignore[import-not-found]

    model = make_pipeline(fancyfeatures.Clip(), LinearRegression()).fit(X, Y)
    refusal = _refusal(tmp_path, model, X)

    assert refusal.reason == "library_not_in_layer"
    assert "needs fancyfeatures (distribution fancy-features)" in str(refusal)
    sys.modules.pop("fancyfeatures", None)


class Doubler(TransformerMixin, BaseEstimator):
    def fit(self, X: object, y: object = None) -> Doubler:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return X * 2


def test_a_class_defined_in_main_says_to_move_it_into_a_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a notebook cell defines it: the class lives in __main__.
    monkeypatch.setattr(Doubler, "__module__", "__main__")
    monkeypatch.setattr(sys.modules["__main__"], "Doubler", Doubler, raising=False)
    model = make_pipeline(Doubler(), LinearRegression()).fit(X, Y)

    refusal = _refusal(tmp_path, model, X)

    assert refusal.reason == "defined_in_main"
    assert "uses Doubler, defined in __main__" in str(refusal)
    assert "move it into a module" in str(refusal)


def test_a_lambda_cannot_be_pickled(tmp_path: Path) -> None:
    model = make_pipeline(FunctionTransformer(lambda x: x), LinearRegression()).fit(X, Y)

    refusal = _refusal(tmp_path, model, X)

    assert refusal.reason == "not_picklable"
    assert "no lambdas or local classes" in str(refusal)


def test_a_scikit_learn_other_than_the_layers_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = {"scikit-learn": "1.8.0"}
    real = dependencies.layer_version
    monkeypatch.setattr(dependencies, "layer_version", lambda d: pins.get(d) or real(d))
    model = LinearRegression().fit(X, Y)

    refusal = _refusal(tmp_path, model, X)

    assert refusal.reason == "version_mismatch"
    import sklearn

    assert f"scikit-learn {sklearn.__version__} (the layer has 1.8.0)" in str(refusal)
    assert "pip install scikit-learn==1.8.0" in str(refusal)


def test_a_numpy_minor_other_than_the_layers_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    major, minor = np.__version__.split(".")[:2]
    other = f"{major}.{int(minor) + 1}.0"
    real = dependencies.layer_version
    monkeypatch.setattr(dependencies, "layer_version", lambda d: other if d == "numpy" else real(d))

    refusal = _refusal(tmp_path, LinearRegression().fit(X, Y), X)

    assert refusal.reason == "version_mismatch"
    assert f"(the layer has {other})" in str(refusal)


def test_a_model_that_answers_differently_each_time_fails_the_smoke_check(
    tmp_path: Path,
) -> None:
    x = np.random.default_rng(0).normal(size=(300, 2))
    model = DummyClassifier(strategy="uniform").fit(x, np.arange(300) % 2)

    refusal = _refusal(tmp_path, model, x)

    assert refusal.reason == "smoke_mismatch"
    assert "rows' predictions differ (row " in str(refusal)


def test_an_existing_output_is_never_replaced(tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")

    with pytest.raises(PackagingError, match="already exists") as raised:
        package(LinearRegression().fit(X, Y), X, name="m", out=out)

    assert raised.value.reason == "output_exists"
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_an_empty_output_directory_is_filled(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()

    package(LinearRegression().fit(X, Y), X, name="m", out=tmp_path / "m")

    assert (tmp_path / "m" / "manifest.json").is_file()


def test_labels_with_one_class_give_no_metrics_and_say_so(tmp_path: Path) -> None:
    model = LogisticRegression().fit(X, Y)
    sample = pd.DataFrame(X[:5], columns=["a", "b"]).assign(label=0)

    refusal = _refusal(tmp_path, model, sample, target="label")

    assert refusal.reason == "invalid_sample"
    assert "holdout metrics cannot be computed" in str(refusal)


def test_an_invalid_name_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="invalid model name 'no spaces'"):
        package(LinearRegression().fit(X, Y), X, name="no spaces", out=tmp_path / "m")


def test_a_pipeline_fitted_on_a_subset_of_columns_is_fed_only_those(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "noise": "x"})
    model = Pipeline([("model", LinearRegression())]).fit(frame[["b", "a"]], Y)

    manifest = package(model, frame, name="m", out=tmp_path / "m")

    assert manifest.feature_names == ["b", "a"]
