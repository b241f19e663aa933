"""A retraining run whose model is fitted by the user's own training function: the deployed
state machine, executed by moto, packages what the function returns (a DataFrame pipeline
with a transformer from the user's module), evaluates, gates, registers and releases it."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

from modelship import names
from modelship.registry.registry import Registry
from modelship.training.churn import generate_churn
from modelship.training.tables import table_to_csv_bytes
from tests.conftest import BUCKET
from tests.integration.release_world import World, stable_on
from tests.integration.retraining_template import (
    deploy_retraining,
    outcome_messages,
    run_execution,
)

FAST_PLAN = [{"weight": 0.1, "bake_seconds": 0}, {"weight": 0.5, "bake_seconds": 0}]

USER_MODULE = '''
import json
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


class Standardize(BaseEstimator, TransformerMixin):
    """The user's own transformer: the registered model needs this module to load."""

    def fit(self, X, y=None):
        values = np.asarray(X, dtype=float)
        self.mean_ = values.mean(axis=0)
        self.scale_ = values.std(axis=0) + 1e-9
        return self

    def transform(self, X):
        return (np.asarray(X, dtype=float) - self.mean_) / self.scale_


def fit(X, y):
    seen = {
        "dtypes": {c: str(t) for c, t in X.dtypes.items()},
        "target": [y.name, str(y.dtype), len(y) == len(X)],
    }
    with open(os.environ["CHURN_TRAINING_SEEN"], "w") as out:
        json.dump(seen, out)
    numeric = [c for c in X.columns if X[c].dtype.kind in "if"]
    categorical = [c for c in X.columns if c not in numeric]
    features = ColumnTransformer(
        [
            ("numeric", Standardize(), numeric),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("features", features), ("model", LogisticRegression(max_iter=1000))]).fit(
        X, y
    )


def not_a_model(X, y):
    return "a string"
'''


@pytest.fixture
def user_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """The user's code directory with one uniquely named module (sys.path restored); its
    `fit` writes what it was called with to CHURN_TRAINING_SEEN (a file, not module state:
    evaluating the model imports the module afresh from the model's code.zip)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setenv("CHURN_TRAINING_SEEN", str(tmp_path / "seen.json"))
    code = tmp_path / "churn_code"
    code.mkdir()
    module = f"churn_training_{uuid.uuid4().hex[:8]}"
    (code / f"{module}.py").write_text(USER_MODULE)
    return code, module


@pytest.fixture
def pipeline(world: World, user_code: tuple[Path, str]) -> dict[str, str]:
    code, module = user_code
    deployed = deploy_retraining(
        world,
        release_plan=FAST_PLAN,
        task_env={
            names.ENV_TRAINING_ENTRY_POINT: f"{module}:fit",
            names.ENV_TRAINING_CODE_DIR: str(code),
        },
    )
    stable_on(world, "v1")
    # The challenger's canary is judged at each step: both sides serve healthy traffic first.
    world.runner.before_invoke = world.judged_with_traffic()
    return deployed


def test_the_users_function_trains_and_its_packaged_model_is_released(
    world: World, pipeline: dict[str, str], user_code: tuple[Path, str], tmp_path: Path
) -> None:
    _, module = user_code
    world.s3.put_object(
        Bucket=BUCKET,
        Key="datasets/churn/2026-11.csv",
        Body=table_to_csv_bytes(generate_churn(drift=0.8, seed=21)),
    )
    stable = world.alias()["FunctionVersion"]

    result = run_execution(world, pipeline["machine"], {"steps": FAST_PLAN})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["entry_point"] == f"{module}:fit"
    assert output["decision"]["passed"] is True, output["decision"]
    new_model = output["registered"]["version"]
    manifest = Registry(world.s3, BUCKET).show("churn", new_model)
    assert manifest.origin == "packaged"
    assert manifest.prediction_profile is not None
    assert manifest.prediction_profile.kind == "categorical"
    assert manifest.input_format == "dataframe"
    assert manifest.parent_version == "v1"
    assert manifest.training_data.uri == f"s3://{BUCKET}/datasets/churn/2026-11.csv"
    assert manifest.training_data.etag == output["dataset"]["etag"]
    assert manifest.code is not None
    assert module in manifest.code.modules
    code_key = f"{names.MODELS_PREFIX}/churn/{new_model}/{names.MODEL_CODE_FILE}"
    assert world.s3.head_object(Bucket=BUCKET, Key=code_key)["ContentLength"] == (
        manifest.code.size_bytes
    )
    frame_dtypes = {f.name: f.frame_dtype for f in manifest.features}
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert frame_dtypes == seen["dtypes"]
    assert "str" in frame_dtypes.values()
    assert "int64" in frame_dtypes.values()
    assert seen["target"] == ["churned", "int64", True]
    evaluation = output["evaluation"]
    assert evaluation["challenger"]["holdout_rows"] == evaluation["champion"]["holdout_rows"]
    live = world.alias()
    assert live["FunctionVersion"] != stable
    config = world.lambda_.get_function_configuration(
        FunctionName="modelship-predict", Qualifier=live["FunctionVersion"]
    )
    assert config["Environment"]["Variables"]["MODEL_VERSION"] == new_model
    (notice,) = outcome_messages(world, pipeline["queue"])
    assert notice["outcome"] == "promoted"


def test_an_entry_point_that_returns_no_model_fails_the_run_and_registers_nothing(
    world: World, pipeline: dict[str, str], user_code: tuple[Path, str]
) -> None:
    from modelship.cli import main

    _, module = user_code
    world.s3.put_object(
        Bucket=BUCKET,
        Key="datasets/churn/2026-11.csv",
        Body=table_to_csv_bytes(generate_churn(drift=0.8, seed=21)),
    )
    before = [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")]

    code = main(
        [
            "retrain",
            "--state-machine",
            pipeline["machine"],
            "--entry-point",
            f"{module}:not_a_model",
            "--wait",
            "--poll",
            "0.1",
        ]
    )

    assert code == 1
    (execution,) = world.sfn.list_executions(stateMachineArn=pipeline["machine"])["executions"]
    described = world.sfn.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] == "FAILED"
    assert f"{module}:not_a_model" in described["cause"]
    assert [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")] == before
    (notice,) = outcome_messages(world, pipeline["queue"])
    assert notice["outcome"] == "failed"
