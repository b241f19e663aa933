"""`models package` writes the directory `models publish` takes: a notebook model and its
sample file in, a published version in S3 out. Refusals are one line with their reason."""

from __future__ import annotations

import json
import operator
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn.base
import skops.io
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelship.cli import main
from modelship.packaging.packager import package
from modelship.registry.manifest import read_manifest_dir
from modelship.registry.registry import Registry, artifact_key, code_key, manifest_key
from tests.conftest import BUCKET
from tests.notebook_models import (
    CUSTOM_MODULE,
    CUSTOM_SOURCE,
    churn_frame,
    dataframe_pipeline,
)


@pytest.fixture
def notebook(tmp_path: Path) -> tuple[Path, Path]:
    """What a notebook leaves behind: model.joblib and the data it was fitted on."""
    frame = churn_frame()
    model = dataframe_pipeline().fit(frame.drop(columns=["churned"]), frame["churned"])
    joblib.dump(model, tmp_path / "churn.joblib")
    frame.to_csv(tmp_path / "churn.csv", index=False)
    return tmp_path / "churn.joblib", tmp_path / "churn.csv"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = main([*args, "--output", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def test_a_packaged_pipeline_is_published_by_the_registry(s3: Any, tmp_path: Path) -> None:
    frame = churn_frame()
    model = dataframe_pipeline().fit(frame.drop(columns=["churned"]), frame["churned"])
    manifest = package(
        model, frame, name="churn", version="v1", target="churned", out=tmp_path / "m"
    )

    published = Registry(s3, BUCKET).publish(tmp_path / "m")

    assert published == manifest
    stored = s3.get_object(Bucket=BUCKET, Key=manifest_key("churn", "v1"))["Body"].read()
    assert json.loads(stored)["origin"] == "packaged"
    head = s3.head_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))
    assert head["ContentLength"] == manifest.artifact.size_bytes


def test_models_package_then_models_publish(
    s3: Any, notebook: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file, sample_file = notebook
    out = tmp_path / "packaged"

    code, packaged, err = _run(
        [
            "models",
            "package",
            str(model_file),
            "--sample",
            str(sample_file),
            "--target",
            "churned",
            "--version",
            "v7",
            "--out",
            str(out),
        ],
        capsys,
    )

    assert code == 0, err
    assert (packaged["name"], packaged["version"], packaged["task"]) == (
        "churn",
        "v7",
        "classification",
    )
    assert packaged["input_format"] == "dataframe"
    assert [f["name"] for f in packaged["features"]] == ["tenure", "monthly", "plan"]
    assert packaged["metrics"]["roc_auc"] > 0.5
    assert read_manifest_dir(out).training_data.uri == sample_file.resolve().as_uri()

    code, published, err = _run(["models", "publish", str(out), "--bucket", BUCKET], capsys)

    assert code == 0, err
    assert published["location"] == f"s3://{BUCKET}/models/churn/v7/"
    assert published["sha256"] == packaged["artifact"]["sha256"]


def test_the_text_output_says_what_was_packaged_and_what_next(
    notebook: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file, sample_file = notebook

    code = main(
        [
            "models",
            "package",
            str(model_file),
            "--sample",
            str(sample_file),
            "--out",
            str(tmp_path / "o"),
        ]
    )

    text = capsys.readouterr().out
    assert code == 0
    assert "task      classification (0, 1)" in text
    assert f"next      modelship models publish {tmp_path / 'o'}" in text


def test_a_model_with_its_own_code_is_packaged_and_published_with_code_zip(
    s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_code = tmp_path / "src"
    user_code.mkdir()
    (user_code / f"{CUSTOM_MODULE}.py").write_text(CUSTOM_SOURCE)
    with monkeypatch.context() as notebook_session:
        notebook_session.syspath_prepend(str(user_code))
        import shop_features  # type: ignore[import-not-found]

        frame = churn_frame()[["tenure", "churned"]]
        model = make_pipeline(shop_features.LogAmount(), LogisticRegression()).fit(
            frame[["tenure"]], frame["churned"]
        )
        joblib.dump(model, tmp_path / "custom.joblib")
    sys.modules.pop(CUSTOM_MODULE)  # a fresh process: only --code makes the module importable
    frame.to_csv(tmp_path / "sample.csv", index=False)

    code, packaged, err = _run(
        [
            "models",
            "package",
            str(tmp_path / "custom.joblib"),
            "--sample",
            str(tmp_path / "sample.csv"),
            "--target",
            "churned",
            "--code",
            str(user_code / f"{CUSTOM_MODULE}.py"),
            "--version",
            "v1",
            "--out",
            str(tmp_path / "m"),
        ],
        capsys,
    )
    assert code == 0, err
    assert packaged["code"]["modules"] == [CUSTOM_MODULE]
    sys.modules.pop(CUSTOM_MODULE, None)  # loaded from --code by this process; forget it

    code, _, err = _run(["models", "publish", str(tmp_path / "m"), "--bucket", BUCKET], capsys)

    assert code == 0, err
    zipped = s3.get_object(Bucket=BUCKET, Key=code_key("custom", "v1"))["Body"].read()
    assert zipped == (tmp_path / "m" / "code.zip").read_bytes()


def test_without_its_code_the_saved_model_names_the_missing_module(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / f"{CUSTOM_MODULE}.py").write_text(CUSTOM_SOURCE)
    with monkeypatch.context() as notebook_session:
        notebook_session.syspath_prepend(str(tmp_path))
        import shop_features

        frame = churn_frame()
        model = make_pipeline(shop_features.LogAmount(), LinearRegression()).fit(
            frame[["tenure"]], frame["monthly"].fillna(0)
        )
        joblib.dump(model, tmp_path / "spend.joblib")
    sys.modules.pop(CUSTOM_MODULE)
    frame[["tenure"]].to_csv(tmp_path / "sample.csv", index=False)

    code, _, err = _run(
        [
            "models",
            "package",
            str(tmp_path / "spend.joblib"),
            "--sample",
            str(tmp_path / "sample.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
        capsys,
    )

    assert code == 1
    assert json.loads(err)["error"]["reason"] == "missing_module"
    assert f"needs the module '{CUSTOM_MODULE}'" in json.loads(err)["error"]["message"]
    assert not (tmp_path / "m").exists()


def test_a_model_pickled_by_another_scikit_learn_names_both_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = churn_frame()
    model = LinearRegression().fit(frame[["tenure"]], frame["monthly"].fillna(0))
    with monkeypatch.context() as older:
        older.setattr(sklearn.base, "__version__", "1.8.0")  # what BaseEstimator pickles
        joblib.dump(model, tmp_path / "old.joblib")
    frame[["tenure"]].to_csv(tmp_path / "sample.csv", index=False)

    code = main(
        [
            "models",
            "package",
            str(tmp_path / "old.joblib"),
            "--sample",
            str(tmp_path / "sample.csv"),
            "--out",
            str(tmp_path / "m"),
        ]
    )

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error [version_mismatch]: ")
    assert (
        "pickled with scikit-learn 1.8.0 (LinearRegression); this environment has "
        f"{sklearn.__version__}" in err
    )


def test_a_skops_file_is_packaged_as_skops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = churn_frame()
    model = dataframe_pipeline().fit(frame.drop(columns=["churned"]), frame["churned"])
    skops.io.dump(model, tmp_path / "churn.skops")
    frame.to_csv(tmp_path / "churn.csv", index=False)

    code, packaged, err = _run(
        [
            "models",
            "package",
            str(tmp_path / "churn.skops"),
            "--sample",
            str(tmp_path / "churn.csv"),
            "--out",
            str(tmp_path / "m"),
        ],
        capsys,
    )

    assert code == 0, err
    assert packaged["artifact"]["format"] == "skops"
    assert packaged["artifact"]["file"] == "model.skops"


def test_a_skops_file_needing_untrusted_types_is_refused_before_loading_and_trusted_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    x = np.arange(40.0).reshape(20, 2)
    model = make_pipeline(FunctionTransformer(operator.neg), LinearRegression()).fit(
        x, x.sum(axis=1)
    )
    skops.io.dump(model, tmp_path / "neg.skops")
    pd.DataFrame(x, columns=["a", "b"]).to_csv(tmp_path / "sample.csv", index=False)
    args = [
        "models",
        "package",
        str(tmp_path / "neg.skops"),
        "--sample",
        str(tmp_path / "sample.csv"),
        "--out",
        str(tmp_path / "m"),
    ]
    loads: list[Any] = []
    real_load = skops.io.load

    def counting_load(*load_args: Any, **kwargs: Any) -> Any:
        loads.append(kwargs.get("trusted"))
        return real_load(*load_args, **kwargs)

    monkeypatch.setattr(skops.io, "load", counting_load)

    code, _, err = _run(args, capsys)

    assert code != 0
    assert "untrusted_types" in err
    assert "--trust _operator.neg" in err
    assert loads == []  # refused before anything was loaded
    assert not (tmp_path / "m").exists()

    code, packaged, err = _run([*args, "--trust", "_operator.neg"], capsys)

    assert code == 0, err
    assert packaged["artifact"]["trusted_types"] == ["_operator.neg"]
    assert read_manifest_dir(tmp_path / "m").artifact.trusted_types == ("_operator.neg",)
    assert loads  # the input file and the artifact, each trusting exactly that type
    assert all(trusted == ["_operator.neg"] for trusted in loads)


def test_column_overrides_come_from_a_json_file(
    notebook: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file, sample_file = notebook
    overrides = tmp_path / "columns.json"
    overrides.write_text(
        json.dumps(
            {
                "tenure": {"min": 0, "max": 120},
                "plan": {"categories": ["basic", "plus", "pro", "max"]},
            }
        )
    )

    code, packaged, err = _run(
        [
            "models",
            "package",
            str(model_file),
            "--sample",
            str(sample_file),
            "--columns",
            str(overrides),
            "--out",
            str(tmp_path / "m"),
        ],
        capsys,
    )

    assert code == 0, err
    features = {f["name"]: f for f in packaged["features"]}
    assert (features["tenure"]["min"], features["tenure"]["max"]) == (0, 120)
    assert features["plan"]["categories"] == ["basic", "max", "plus", "pro"]


@pytest.mark.parametrize(
    ("file_name", "reason", "said"),
    [
        ("bad name!.joblib", "invalid_version", "pass --name"),
        ("model.h5", "not_an_estimator", "expected .joblib, .pkl, .skops"),
    ],
)
def test_a_model_file_that_gives_no_name_or_format_is_refused(
    notebook: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_name: str,
    reason: str,
    said: str,
) -> None:
    model_file, sample_file = notebook
    renamed = model_file.rename(tmp_path / file_name)

    code, _, err = _run(
        [
            "models",
            "package",
            str(renamed),
            "--sample",
            str(sample_file),
            "--out",
            str(tmp_path / "m"),
        ],
        capsys,
    )

    assert code == 1
    assert json.loads(err)["error"]["reason"] == reason
    assert said in json.loads(err)["error"]["message"]


def test_a_parquet_sample_without_pyarrow_says_what_to_install(
    notebook: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    model_file, _ = notebook
    (tmp_path / "sample.parquet").write_bytes(b"PAR1")

    code = main(
        [
            "models",
            "package",
            str(model_file),
            "--sample",
            str(tmp_path / "sample.parquet"),
            "--out",
            str(tmp_path / "m"),
        ]
    )

    assert code == 1
    assert "needs pyarrow, which is not installed" in capsys.readouterr().err


def test_columns_that_are_not_a_json_object_are_refused(
    notebook: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file, sample_file = notebook
    (tmp_path / "columns.json").write_text("[1, 2]")

    code = main(
        [
            "models",
            "package",
            str(model_file),
            "--sample",
            str(sample_file),
            "--columns",
            str(tmp_path / "columns.json"),
            "--out",
            str(tmp_path / "m"),
        ]
    )

    assert code == 1
    assert "expected a JSON object of column overrides" in capsys.readouterr().err
