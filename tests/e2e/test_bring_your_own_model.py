"""Models fitted outside modelship, on the emulator: packaged, published, released and served
over HTTP, where the API answers what the estimator itself computes (to 1e-12), and
/model/info and the OpenAPI document describe that output.

Each test makes its model the stable release and puts the stable release it found back
afterwards, so the other e2e modules keep the reference model on `live`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import modelship
from examples import churn_pipeline
from examples.churn_pipeline import as_instances
from modelship.api_client import call
from modelship.registry.manifest import read_manifest_dir
from modelship.registry.registry import Registry
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
CUSTOM = REPO / "examples" / "custom_transformer"
TOLERANCE = 1e-12
ROWS = 25


@pytest.fixture
def stable_restored(local: Local) -> Iterator[Local]:
    stable = local.releases().alias_state().stable
    yield local
    local.releases().promote(candidate=stable, direct=True, reason="e2e byo: back to stable")


@pytest.fixture(scope="module")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return churn_pipeline.write_example_csv(tmp_path_factory.mktemp("byo") / "churn.csv")


def get(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    answer = call(f"{parts.scheme}://{parts.netloc}", "GET", parts.path)
    assert answer.status == 200, answer.body
    found: dict[str, Any] = answer.json()
    return found


def predict(local: Local, rows: pd.DataFrame) -> dict[str, Any]:
    body = json.dumps({"instances": as_instances(rows)}).encode()
    answer = call(local.api_url, "POST", "/predict", body, {"content-type": "application/json"})
    assert answer.status == 200, answer.body
    found: dict[str, Any] = answer.json()
    return found


def ship(local: Local, model_dir: Path) -> str:
    """Publishes a packaged model directory and makes it the stable release; its version."""
    manifest = read_manifest_dir(model_dir)
    Registry(local.client("s3"), local.environment["MODELSHIP_BUCKET"]).publish(model_dir)
    releases = local.releases()
    # Each model here has its own features: a schema change the callers (this test) expect.
    info, _ = releases.create(manifest.version, allow_schema_change=True, reason="e2e byo")
    releases.promote(candidate=info.version, direct=True, reason="e2e byo")
    return manifest.version


def served_probabilities(answer: dict[str, Any], classes: list[Any]) -> np.ndarray:
    return np.array([[row[str(c)] for c in classes] for row in answer["probabilities"]])


def described_output(local: Local) -> tuple[dict[str, Any], dict[str, Any]]:
    """/model/info, and the properties of /predict's answer in /openapi.json."""
    info = get(local.api_url + "/model/info")
    document = get(local.api_url + "/openapi.json")
    return info, document["components"]["schemas"]["PredictResponse"]["properties"]


def assert_describes_classifier(local: Local, classes: list[Any]) -> None:
    info, answer = described_output(local)
    assert (info["task"], info["classes"], info["input_format"]) == (
        "classification",
        classes,
        "dataframe",
    )
    assert info["output"]["classes"] == classes
    assert answer["predictions"]["items"]["enum"] == classes
    assert answer["probabilities"]["items"]["required"] == [str(c) for c in classes]


def largest_difference(served: np.ndarray, local: np.ndarray) -> float:
    assert served.shape == local.shape
    return float(np.max(np.abs(served - local)))


def test_the_example_pipeline_answers_over_http_what_predict_proba_computes(
    stable_restored: Local, churn_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the emulator's environment, as `eval "$(modelship local up --detach)"` sets it
    for key, value in stable_restored.environment.items():
        monkeypatch.setenv(key, value)

    # When the example script runs its whole journey
    journey = churn_pipeline.run(tmp_path, stable_restored.api_url, csv=churn_csv, rows=ROWS)

    # Then the API served the packaged version, a new customer (null total charges) included
    assert journey.http["model_version"] == journey.model_version
    assert journey.rows["total_charges"].isna().any()
    served = journey.http_probabilities()
    assert largest_difference(served, journey.local_probabilities()) <= TOLERANCE
    labels = journey.pipeline.predict(journey.rows).tolist()
    assert journey.http["predictions"] == labels
    assert get(stable_restored.api_url + "/model/info")["version"] == journey.model_version
    assert_describes_classifier(stable_restored, [0, 1])


def test_a_regressor_answers_its_values(
    stable_restored: Local, churn_csv: Path, tmp_path: Path
) -> None:
    # Given a regressor of monthly charges fitted on a DataFrame
    frame = pd.read_csv(churn_csv).drop(columns=["churned"])
    target = "monthly_charges"
    categorical = ["contract", "payment_method", "internet_service", "paperless_billing"]
    numeric = [c for c in frame.columns if c not in {*categorical, target}]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), numeric),
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                    ]
                ),
            ),
            ("regressor", GradientBoostingRegressor(n_estimators=60, random_state=0)),
        ]
    ).fit(frame.iloc[:2000].drop(columns=[target]), frame.iloc[:2000][target])
    holdout = frame.iloc[2000:]
    modelship.package(
        model,
        holdout,
        name="churn",
        target=target,
        version="byo-regressor",
        out=tmp_path / "package",
    )

    # When it is released and called over HTTP
    version = ship(stable_restored, tmp_path / "package")
    rows = holdout.drop(columns=[target]).head(ROWS)
    answer = predict(stable_restored, rows)

    # Then the values are the regressor's own
    assert answer["model_version"] == version
    served = np.array(answer["predictions"], dtype=float)
    assert largest_difference(served, model.predict(rows)) <= TOLERANCE
    assert "probabilities" not in answer
    info, described = described_output(stable_restored)
    assert (info["task"], info["classes"]) == ("regression", None)
    assert (info["output"]["values_per_row"], info["output"]["value_type"]) == (1, "number")
    assert described["predictions"]["items"] == {"type": "number"}
    assert "probabilities" not in described


def test_a_multiclass_model_answers_every_class_probability(
    stable_restored: Local, churn_csv: Path, tmp_path: Path
) -> None:
    # Given a classifier of the contract type: three string classes
    frame = pd.read_csv(churn_csv)
    target = "contract"
    categorical = ["payment_method", "internet_service", "paperless_billing"]
    numeric = [c for c in frame.columns if c not in {*categorical, target}]
    model = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), numeric),
                        (
                            "categorical",
                            make_pipeline(
                                SimpleImputer(strategy="most_frequent"),
                                OneHotEncoder(handle_unknown="ignore"),
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("classifier", RandomForestClassifier(n_estimators=40, random_state=0)),
        ]
    ).fit(frame.iloc[:2000].drop(columns=[target]), frame.iloc[:2000][target])
    holdout = frame.iloc[2000:]
    modelship.package(
        model,
        holdout,
        name="churn",
        target=target,
        version="byo-multiclass",
        out=tmp_path / "package",
    )

    # When it is released and called over HTTP
    version = ship(stable_restored, tmp_path / "package")
    rows = holdout.drop(columns=[target]).head(ROWS)
    answer = predict(stable_restored, rows)

    # Then every class has its probability, as predict_proba computes it
    classes = model.classes_.tolist()
    assert classes == ["month_to_month", "one_year", "two_year"]
    assert answer["model_version"] == version
    served = served_probabilities(answer, classes)
    assert largest_difference(served, model.predict_proba(rows)) <= TOLERANCE
    assert answer["predictions"] == model.predict(rows).tolist()
    assert_describes_classifier(stable_restored, classes)


@pytest.fixture
def custom_module() -> Iterator[None]:
    """`churn_features` importable here, as in the user's notebook; forgotten afterwards."""
    sys.path.insert(0, str(CUSTOM))
    try:
        yield
    finally:
        sys.path.remove(str(CUSTOM))
        sys.modules.pop("churn_features", None)


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_a_custom_transformer_ships_with_its_code(
    stable_restored: Local, tmp_path: Path, custom_module: None
) -> None:
    # Given the custom-transformer example fitted and dumped as its README says
    csv = tmp_path / "churn.csv"
    cli = [sys.executable, "-m", "modelship"]
    run(*cli, "data", "export", "--out", str(csv), "--rows", "3000")
    run(sys.executable, str(CUSTOM / "train.py"), str(csv), str(tmp_path))

    # When it is packaged with --code, published, released and called
    run(
        *cli,
        "models",
        "package",
        str(tmp_path / "model.joblib"),
        "--sample",
        str(tmp_path / "holdout.csv"),
        "--target",
        "churned",
        "--name",
        "churn",
        "--version",
        "byo-custom",
        "--code",
        str(CUSTOM / "churn_features.py"),
        "--out",
        str(tmp_path / "package"),
    )
    manifest = read_manifest_dir(tmp_path / "package")
    assert manifest.code is not None
    assert manifest.code.modules == ("churn_features",)
    version = ship(stable_restored, tmp_path / "package")
    holdout = pd.read_csv(tmp_path / "holdout.csv").drop(columns=["churned"])
    rows = holdout.head(ROWS)
    answer = predict(stable_restored, rows)

    # Then the function imported the shipped module and answers as the pipeline does here
    model = joblib.load(tmp_path / "model.joblib")
    assert type(model.steps[0][1]).__module__ == "churn_features"
    assert answer["model_version"] == version
    served = served_probabilities(answer, model.classes_.tolist())
    assert largest_difference(served, model.predict_proba(rows)) <= TOLERANCE
    assert not any(math.isnan(p) for p in served.ravel())
    assert_describes_classifier(stable_restored, [0, 1])
    assert get(stable_restored.api_url + "/model/info")["code"] == {"modules": ["churn_features"]}
