"""`modelship.package`: what it writes for the models people fit, checked by loading the
directory back as the predict function does."""

from __future__ import annotations

import operator
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import modelship
from modelship.errors import PackagingError
from modelship.names import MODEL_CODE_FILE
from modelship.packaging.packager import package
from modelship.registry.manifest import CategoricalProfile, NumericProfile, read_manifest_dir
from modelship.serving.artifacts import load_estimator, unpack_code
from modelship.serving.schema import RowSchema
from tests.notebook_models import CUSTOM_MODULE


def _served(out: Path, rows: list[dict[str, object]], scratch: Path) -> object:
    """The packaged model loaded from `out` and called as the predict function calls it."""
    manifest = read_manifest_dir(out)
    code_dir = None
    if manifest.code is not None:
        code_dir = unpack_code(out / MODEL_CODE_FILE, manifest, scratch / "code")
    estimator = load_estimator(manifest, out / manifest.artifact.file, code_dir)
    schema = RowSchema(manifest.features, manifest.input_format)
    return estimator, schema.to_input(schema.validate(rows))


def test_modelship_package_is_the_python_api() -> None:
    assert modelship.package is package


def test_a_dataframe_pipeline_is_packaged_with_its_schema_metrics_and_profile(
    churn: pd.DataFrame, fitted_pipeline: Pipeline, tmp_path: Path
) -> None:
    out = tmp_path / "churn-model"

    manifest = package(fitted_pipeline, churn, name="churn", target="churned", out=out)

    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "model.joblib"]
    assert read_manifest_dir(out) == manifest
    assert (manifest.origin, manifest.task, manifest.classes) == (
        "packaged",
        "classification",
        (0, 1),
    )
    assert manifest.input_format == "dataframe"
    assert [f.name for f in manifest.features] == ["tenure", "monthly", "plan"]
    plan = manifest.features[2]
    assert (plan.categories, plan.nullable) == (("basic", "plus", "pro"), True)
    assert manifest.estimator.algorithm == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert set(manifest.metrics) >= {"roc_auc", "accuracy", "log_loss"}
    assert manifest.metrics["holdout_rows"] == len(churn)
    assert manifest.training_data.target == "churned"
    assert manifest.training_data.rows == len(churn)
    assert manifest.profile["plan"].kind == "categorical"
    answers = fitted_pipeline.predict(churn.drop(columns=["churned"]))
    assert manifest.prediction_profile == CategoricalProfile(
        count=len(churn),
        fractions={str(k): float(np.mean(answers == k)) for k in np.unique(answers)},
    )
    assert manifest.runtime.pandas == pd.__version__
    assert not list(tmp_path.glob(".churn-model.*")), "the staging directory was left behind"


def test_the_packaged_dataframe_model_serves_the_original_probabilities(
    churn: pd.DataFrame, fitted_pipeline: Pipeline, tmp_path: Path
) -> None:
    out = tmp_path / "m"
    package(fitted_pipeline, churn, name="churn", out=out)
    rows = [
        {"tenure": 12, "monthly": None, "plan": "pro"},
        {"tenure": 70, "monthly": 20.5, "plan": None},
    ]

    estimator, served_input = _served(out, rows, tmp_path)

    frame = pd.DataFrame(
        {"tenure": [12, 70], "monthly": [np.nan, 20.5], "plan": ["pro", None]}
    ).astype({"plan": churn["plan"].dtype})
    expected = fitted_pipeline.predict_proba(frame)
    assert np.array_equal(estimator.predict_proba(served_input), expected)  # type: ignore[attr-defined]


def test_a_regressor_is_packaged_as_regression(churn: pd.DataFrame, tmp_path: Path) -> None:
    numbers = churn[["tenure"]].assign(spend=churn["tenure"] * 2.5 + 3)
    model = LinearRegression().fit(numbers[["tenure"]], numbers["spend"])

    manifest = package(model, numbers, name="spend", target="spend", out=tmp_path / "m")

    assert (manifest.task, manifest.classes) == ("regression", None)
    assert manifest.metrics["r2"] == pytest.approx(1.0)
    assert manifest.features[0].frame_dtype == "int64"
    assert isinstance(manifest.prediction_profile, NumericProfile)
    assert manifest.prediction_profile.max == pytest.approx(numbers["spend"].max())
    assert len(manifest.prediction_profile.quantiles) == 101


def test_a_multi_class_model_lists_its_classes(churn: pd.DataFrame, tmp_path: Path) -> None:
    sample = churn[["tenure"]].assign(
        segment=pd.cut(churn["tenure"], 3, labels=["new", "mid", "old"]).astype(str)
    )
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        sample[["tenure"]], sample["segment"]
    )

    manifest = package(model, sample, name="segments", target="segment", out=tmp_path / "m")

    assert manifest.classes == ("mid", "new", "old")
    assert "f1" in manifest.metrics


def test_an_array_fitted_model_keeps_the_array_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))

    manifest = package(model, x, name="arrays", out=tmp_path / "m")

    assert manifest.input_format == "array"
    assert manifest.feature_names == ["x0", "x1", "x2"]
    assert manifest.metrics == {}
    assert manifest.training_data.target is None


def test_a_csv_shaped_sample_names_an_array_models_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 2))
    model = LinearRegression().fit(x, x.sum(axis=1))
    sample = pd.DataFrame(x, columns=["height", "weight"]).assign(total=x.sum(axis=1))

    manifest = package(model, sample, name="arrays", target="total", out=tmp_path / "m")

    assert (manifest.input_format, manifest.feature_names) == ("array", ["height", "weight"])
    assert manifest.metrics["rmse"] == pytest.approx(0.0, abs=1e-9)


def test_a_custom_transformer_ships_with_its_code(
    churn: pd.DataFrame, custom_module: ModuleType, tmp_path: Path
) -> None:
    model = Pipeline(
        [
            ("features", ColumnTransformer([("log", custom_module.LogAmount(), ["tenure"])])),
            ("model", LogisticRegression()),
        ]
    ).fit(churn[["tenure"]], churn["churned"])
    code_path = Path(custom_module.__file__ or "")

    manifest = package(
        model,
        churn[["tenure", "churned"]],
        name="custom",
        target="churned",
        out=tmp_path / "m",
        code=[code_path],
    )

    assert manifest.code is not None
    assert manifest.code.modules == (CUSTOM_MODULE,)
    with zipfile.ZipFile(tmp_path / "m" / MODEL_CODE_FILE) as archive:
        assert archive.namelist() == [f"{CUSTOM_MODULE}.py"]
    assert sys.modules[CUSTOM_MODULE] is custom_module, "the user's module was not put back"
    assert str(tmp_path / "m") not in sys.path


def test_a_custom_transformer_without_its_code_names_the_module(
    churn: pd.DataFrame, custom_module: ModuleType, tmp_path: Path
) -> None:
    model = make_pipeline(custom_module.LogAmount(), LogisticRegression()).fit(
        churn[["tenure"]], churn["churned"]
    )

    with pytest.raises(PackagingError, match=f"lacks: {CUSTOM_MODULE} .*--code") as raised:
        package(model, churn[["tenure"]], name="custom", out=tmp_path / "m")

    assert raised.value.reason == "missing_module"
    assert not (tmp_path / "m").exists()


def test_code_that_does_not_provide_the_class_fails_the_smoke_check(
    churn: pd.DataFrame, custom_module: ModuleType, tmp_path: Path
) -> None:
    model = make_pipeline(custom_module.LogAmount(), LogisticRegression()).fit(
        churn[["tenure"]], churn["churned"]
    )
    impostor = tmp_path / "impostor" / f"{CUSTOM_MODULE}.py"
    impostor.parent.mkdir()
    impostor.write_text("# not the module the model was fitted with\n")

    with pytest.raises(PackagingError, match="does not load as the predict function loads it"):
        package(model, churn[["tenure"]], name="custom", out=tmp_path / "m", code=[impostor])

    assert not (tmp_path / "m").exists()
    assert sys.modules[CUSTOM_MODULE] is custom_module


def test_skops_artifacts_trust_only_the_layers_types(
    churn: pd.DataFrame, fitted_pipeline: Pipeline, tmp_path: Path
) -> None:
    manifest = package(
        fitted_pipeline, churn, name="churn", out=tmp_path / "m", artifact_format="skops"
    )

    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["manifest.json", "model.skops"]
    assert manifest.artifact.format == "skops"
    assert manifest.artifact.trusted_types
    assert all(t.split(".")[0] in {"numpy", "sklearn"} for t in manifest.artifact.trusted_types)


def test_skops_refuses_standard_library_callables_by_name(tmp_path: Path) -> None:
    x = np.arange(20.0).reshape(10, 2)
    model = make_pipeline(FunctionTransformer(operator.neg), LinearRegression()).fit(
        x, x.sum(axis=1)
    )

    with pytest.raises(PackagingError, match=r"trust by default: _operator\.neg") as raised:
        package(model, x, name="neg", out=tmp_path / "m", artifact_format="skops")

    assert raised.value.reason == "untrusted_types"
    assert "--trust _operator.neg" in str(raised.value)
    assert not (tmp_path / "m").exists()
    assert package(model, x, name="neg", out=tmp_path / "j").artifact.format == "joblib"
