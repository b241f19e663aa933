"""load_estimator and unpack_code: the one loader, its refusals, and the code.zip checks."""

import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.base
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from modelship.digest import file_digest
from modelship.errors import IncompatibleModel, IntegrityError
from modelship.registry.manifest import CodeInfo, FeatureSpec, Manifest
from modelship.serving.artifacts import check_schema, load_estimator, unpack_code
from tests.hand_built_models import (
    SCALING_PACKAGE,
    forget_module,
    forget_package,
    scaling_model,
    user_module,
    write_model_dir,
)

NUMERIC = (
    FeatureSpec(name="x1", kind="numeric", dtype="float"),
    FeatureSpec(name="x2", kind="numeric", dtype="float"),
)
X = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0]])
Y = np.array(["no", "no", "yes", "yes"])


def _model(tmp_path: Path, estimator: Any, **options: Any) -> tuple[Manifest, Path]:
    out = tmp_path / "model"
    manifest = write_model_dir(estimator, out, features=NUMERIC, **options)
    return manifest, out / manifest.artifact.file


def test_a_joblib_classifier_loads_and_predicts_like_the_original(tmp_path: Path) -> None:
    original = LogisticRegression().fit(X, Y)
    manifest, artifact = _model(tmp_path, original, task="classification")

    loaded = load_estimator(manifest, artifact)

    assert np.array_equal(loaded.predict_proba(X), original.predict_proba(X))


@pytest.mark.parametrize(
    ("estimator", "task"),
    [
        (LinearRegression().fit(X, [0.5, 1.5, 2.5, 3.5]), "regression"),
        (LinearSVC().fit(X, Y), "predict_only"),
    ],
)
def test_regression_and_predict_only_models_pass_the_schema_check(
    tmp_path: Path, estimator: Any, task: str
) -> None:
    manifest, artifact = _model(tmp_path, estimator, task=task)

    loaded = load_estimator(manifest, artifact)

    assert np.array_equal(loaded.predict(X), estimator.predict(X))


def test_a_classifier_without_probabilities_is_not_served_as_classification(
    tmp_path: Path,
) -> None:
    svc = LinearSVC().fit(X, Y)
    manifest, _ = _model(tmp_path, svc, task="predict_only")
    claimed = manifest.model_copy(update={"task": "classification", "classes": ("no", "yes")})

    with pytest.raises(IncompatibleModel) as caught:
        check_schema(claimed, svc)

    assert caught.value.reason == "manifest_schema_mismatch"


def test_dataframe_feature_names_must_equal_the_manifest_names(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0], "x2": [1.0, 0.0, 1.0, 0.0]})
    model = LogisticRegression().fit(frame, Y)
    manifest, artifact = _model(tmp_path, model, task="classification", input_format="dataframe")
    assert load_estimator(manifest, artifact) is not None
    renamed = manifest.model_copy(
        update={"features": (NUMERIC[0], NUMERIC[1].model_copy(update={"name": "other"}))}
    )

    with pytest.raises(IncompatibleModel, match="feature names differ"):
        check_schema(renamed, model)


def test_a_pickle_from_another_scikit_learn_is_incompatible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LogisticRegression().fit(X, Y)
    monkeypatch.setattr(sklearn.base, "__version__", "1.0.2")
    manifest, artifact = _model(tmp_path, model, task="classification")
    monkeypatch.undo()

    with pytest.raises(IncompatibleModel, match=r"pickled with scikit-learn 1\.0\.2") as caught:
        load_estimator(manifest, artifact)

    assert caught.value.reason == "incompatible_sklearn"


def test_a_file_that_is_not_a_model_is_unloadable(tmp_path: Path) -> None:
    manifest, artifact = _model(tmp_path, LogisticRegression().fit(X, Y), task="classification")
    artifact.write_bytes(b"not a pickle")

    with pytest.raises(IncompatibleModel) as caught:
        load_estimator(manifest, artifact)

    assert caught.value.reason == "unloadable_artifact"


def test_skops_loads_with_the_manifests_trusted_types(tmp_path: Path) -> None:
    model = make_pipeline(FunctionTransformer(np.nan_to_num), LogisticRegression()).fit(X, Y)
    import skops.io

    out = tmp_path / "probe.skops"
    skops.io.dump(model, out)
    needed = skops.io.get_untrusted_types(file=out)
    assert needed  # numpy.nan_to_num is outside skops' defaults
    manifest, artifact = _model(
        tmp_path, model, task="classification", artifact_format="skops", trusted_types=needed
    )

    loaded = load_estimator(manifest, artifact)

    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_skops_types_beyond_the_trusted_list_are_refused_by_name(tmp_path: Path) -> None:
    model = make_pipeline(FunctionTransformer(np.nan_to_num), LogisticRegression()).fit(X, Y)
    manifest, artifact = _model(tmp_path, model, task="classification", artifact_format="skops")

    with pytest.raises(IncompatibleModel) as caught:
        load_estimator(manifest, artifact)

    assert caught.value.reason == "untrusted_types"
    assert "numpy.nan_to_num" in str(caught.value)


def test_custom_code_is_imported_from_the_unpacked_zip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "user-code"
    user = user_module(source, "artifacts_doubler", monkeypatch)
    model = make_pipeline(user.Doubler(), LogisticRegression()).fit(X, Y)
    manifest, artifact = _model(
        tmp_path, model, task="classification", code=[source / "artifacts_doubler.py"]
    )
    forget_module("artifacts_doubler", source, monkeypatch)  # a fresh runtime
    code_dir = unpack_code(tmp_path / "model" / "code.zip", manifest, tmp_path / "code")

    loaded = load_estimator(manifest, artifact, code_dir)

    assert sys.path[0] == str(code_dir)
    assert Path(sys.modules["artifacts_doubler"].__file__).parent == code_dir
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))


@pytest.fixture
def clean_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """sys.path as it was and SCALING_PACKAGE forgotten after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    forget_package(SCALING_PACKAGE)


@pytest.mark.usefixtures("clean_imports")
@pytest.mark.parametrize(("first", "second"), [(2.0, 3.0), (3.0, 2.0)])
def test_two_versions_of_one_module_answer_each_with_its_own_code(
    tmp_path: Path, first: float, second: float
) -> None:
    loaded = []
    for factor in (first, second):
        version = f"v{int(factor)}"
        manifest = scaling_model(tmp_path, factor, NUMERIC, version)
        code_dir = unpack_code(
            tmp_path / version / "code.zip", manifest, tmp_path / f"{version}-code"
        )
        loaded.append(
            load_estimator(manifest, tmp_path / version / manifest.artifact.file, code_dir)
        )

        assert np.array_equal(loaded[-1].predict(X), X[:, 0] * factor)
        assert sys.path[0] == str(code_dir)
        assert Path(sys.modules[f"{SCALING_PACKAGE}.scale"].__file__).parent.parent == code_dir

    assert np.array_equal(loaded[0].predict(X), X[:, 0] * first)  # still its own code
    assert str(tmp_path / f"v{int(first)}-code") not in sys.path


def test_a_module_the_runtime_lacks_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "user-code"
    user = user_module(source, "artifacts_absent", monkeypatch)
    model = make_pipeline(user.Doubler(), LogisticRegression()).fit(X, Y)
    manifest, artifact = _model(tmp_path, model, task="classification")
    forget_module("artifacts_absent", source, monkeypatch)

    with pytest.raises(IncompatibleModel) as caught:
        load_estimator(manifest, artifact)

    assert caught.value.reason == "missing_module"
    assert "'artifacts_absent'" in str(caught.value)


def test_a_model_with_code_but_no_unpacked_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "user-code"
    user_module(source, "artifacts_nodir", monkeypatch)
    model = LogisticRegression().fit(X, Y)
    manifest, artifact = _model(
        tmp_path, model, task="classification", code=[source / "artifacts_nodir.py"]
    )

    with pytest.raises(IncompatibleModel) as caught:
        load_estimator(manifest, artifact)

    assert caught.value.reason == "missing_module"


def _code_manifest(tmp_path: Path, zip_path: Path) -> Manifest:
    sha256, size = file_digest(zip_path)
    manifest, _ = _model(tmp_path, LogisticRegression().fit(X, Y), task="classification")
    code = CodeInfo(sha256=sha256, size_bytes=size, modules=("m",))
    return manifest.model_copy(update={"code": code})


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path


def test_unpack_code_extracts_a_verified_zip(tmp_path: Path) -> None:
    zipped = _zip(tmp_path / "code.zip", {"m.py": "X = 1\n", "pkg/__init__.py": ""})
    manifest = _code_manifest(tmp_path, zipped)

    code_dir = unpack_code(zipped, manifest, tmp_path / "entry" / "code")

    assert (code_dir / "m.py").read_text() == "X = 1\n"
    assert (code_dir / "pkg" / "__init__.py").is_file()
    assert [p.name for p in code_dir.parent.iterdir()] == ["code"]  # no staging left behind


def test_a_tampered_zip_is_refused_before_extraction(tmp_path: Path) -> None:
    zipped = _zip(tmp_path / "code.zip", {"m.py": "X = 1\n"})
    manifest = _code_manifest(tmp_path, zipped)
    _zip(zipped, {"m.py": "import os; os.system('evil')\n"})

    with pytest.raises(IntegrityError) as caught:
        unpack_code(zipped, manifest, tmp_path / "entry" / "code")

    assert caught.value.reason == "sha256_mismatch"
    assert not (tmp_path / "entry" / "code").exists()


@pytest.mark.parametrize("member", ["../escape.py", "/etc/cron.d/x", "a/../../b.py"])
def test_a_member_outside_the_directory_is_refused(tmp_path: Path, member: str) -> None:
    zipped = _zip(tmp_path / "code.zip", {"m.py": "", member: "owned"})
    manifest = _code_manifest(tmp_path, zipped)

    with pytest.raises(IntegrityError) as caught:
        unpack_code(zipped, manifest, tmp_path / "entry" / "code")

    assert caught.value.reason == "unsafe_code_zip"
    assert not (tmp_path / "entry" / "code").exists()
    assert not (tmp_path / "escape.py").exists()
