"""The user's training code: bundled into the retraining functions' asset, named by their
environment, passed to the SageMaker job, and refused at synth when it cannot work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra_cdk.app import build_app
from infra_cdk.function_source import MAX_TRAINING_CODE_BYTES, stage_retraining_source
from infra_cdk.settings import RetrainingSettingsError
from modelship import names

PIPELINE = "functions.retraining.app."
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelship-train:1"


@pytest.fixture
def user_code(tmp_path: Path) -> Path:
    code = tmp_path / "churn_code"
    (code / "churn_features").mkdir(parents=True)
    (code / "churn_features" / "__init__.py").write_text("")
    (code / "churn_features" / "transformers.py").write_text("class Ratio: ...\n")
    (code / "train_churn.py").write_text("def fit(x, y): ...\n")
    (code / "secrets.env").write_text("TOKEN=1\n")
    (code / "__pycache__").mkdir()
    (code / "__pycache__" / "train_churn.cpython-312.pyc").write_bytes(b"\0")
    return code


def _synth(outdir: Path, layer: Path, **context: Any) -> tuple[dict[str, Any], Path]:
    app = App(outdir=str(outdir), context=context)
    stack = build_app(app, layer_asset=layer)
    assembly = app.synth()
    template = assembly.get_stack_artifact(stack.artifact_id).template
    return template, outdir


def _function(template: dict[str, Any], handler: str) -> dict[str, Any]:
    (found,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    return found


def test_the_asset_carries_the_user_code_and_the_tasks_are_told_where(
    tmp_path: Path, stub_layer: Path, user_code: Path
) -> None:
    template, outdir = _synth(
        tmp_path / "cdk.out",
        stub_layer,
        trainingEntryPoint="train_churn:fit",
        trainingCode=str(user_code),
    )

    train = _function(template, PIPELINE + "train")
    variables = train["Environment"]["Variables"]
    assert variables[names.ENV_TRAINING_ENTRY_POINT] == "train_churn:fit"
    # relative to the task root ($LAMBDA_TASK_ROOT, /var/task on AWS), where the asset is
    assert variables[names.ENV_TRAINING_CODE_DIR] == "training_code"
    evaluate = _function(template, PIPELINE + "evaluate")
    assert evaluate["Environment"]["Variables"][names.ENV_TRAINING_CODE_DIR] == "training_code"
    asset = outdir / f"asset.{train['Code']['S3Key'].removesuffix('.zip')}"
    files = sorted(p.relative_to(asset).as_posix() for p in asset.rglob("*") if p.is_file())
    assert [f for f in files if f.startswith("training_code/")] == [
        "training_code/churn_features/__init__.py",
        "training_code/churn_features/transformers.py",
        "training_code/train_churn.py",
    ]
    assert "functions/retraining/app.py" in files
    assert "modelship/retraining/entry_point.py" in files


def test_without_an_entry_point_the_tasks_train_the_built_in_algorithm(
    tmp_path: Path, stub_layer: Path
) -> None:
    template, _ = _synth(tmp_path / "cdk.out", stub_layer)

    variables = _function(template, PIPELINE + "train")["Environment"]["Variables"]
    assert variables[names.ENV_TRAINING_ENTRY_POINT] == ""
    assert names.ENV_TRAINING_CODE_DIR not in variables
    assert "training_code" not in {p.name for p in stage_retraining_source().iterdir()}


def test_the_sagemaker_job_gets_the_runs_entry_point(
    tmp_path: Path, stub_layer: Path, user_code: Path
) -> None:
    template, _ = _synth(
        tmp_path / "cdk.out",
        stub_layer,
        trainingBackend="sagemaker",
        sagemakerImageUri=IMAGE,
        trainingEntryPoint="train_churn:fit",
        trainingCode=str(user_code),
    )

    (machine,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and "createTrainingJob" in json.dumps(r)
    ]
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    definition = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
    hyperparameters = definition["States"]["Train"]["Parameters"]["HyperParameters"]
    assert hyperparameters["entry_point.$"] == "$.entry_point"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"trainingEntryPoint": "train_churn.fit"}, "must be package.module:function"),
        ({"trainingEntryPoint": "train churn:fit"}, "must be package.module:function"),
        ({"trainingEntryPoint": "train_churn:fit"}, "needs trainingCode"),
        (
            {"trainingEntryPoint": "train_churn:fit", "trainingCode": "no/such/dir"},
            "is not a directory",
        ),
        (
            {"trainingEntryPoint": "elsewhere:fit", "trainingCode": "USER_CODE"},
            "trainingCode has neither elsewhere.py nor elsewhere/__init__.py",
        ),
    ],
)
def test_a_training_code_setting_that_cannot_work_is_refused_at_synth(
    tmp_path: Path, stub_layer: Path, user_code: Path, context: dict[str, str], message: str
) -> None:
    context = {k: (str(user_code) if v == "USER_CODE" else v) for k, v in context.items()}

    with pytest.raises(RetrainingSettingsError, match=message):
        _synth(tmp_path / "cdk.out", stub_layer, **context)


@pytest.mark.parametrize(
    ("shadow", "shadowed"),
    [
        ("modelship", "modelship's own package 'modelship'"),
        ("functions.py", "modelship's own package 'functions'"),
        ("numpy.py", "the module 'numpy' of numpy"),
        ("sklearn", "the module 'sklearn' of scikit-learn"),
        ("pandas.py", "the module 'pandas' of pandas"),
        ("json.py", "the standard library's module 'json'"),
    ],
)
def test_user_code_may_not_shadow_what_the_functions_import(
    tmp_path: Path, user_code: Path, shadow: str, shadowed: str
) -> None:
    target = user_code / shadow
    if shadow.endswith(".py"):
        target.write_text("")
    else:
        target.mkdir()
        (target / "__init__.py").write_text("")

    with pytest.raises(
        RetrainingSettingsError, match=f"cannot be used: {shadow} would shadow {shadowed}"
    ):
        stage_retraining_source(training_code=str(user_code))


def test_a_directory_without_python_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("no code here")

    with pytest.raises(RetrainingSettingsError, match="holds no Python files"):
        stage_retraining_source(training_code=str(tmp_path))


def test_training_code_larger_than_the_room_beside_the_layer_is_refused(tmp_path: Path) -> None:
    # Given user code just over the budget the shared layer leaves
    (tmp_path / "big_model_code.py").write_text("#" * (MAX_TRAINING_CODE_BYTES + 1))

    # Then synth refuses it, saying how much there is and how much fits
    with pytest.raises(
        RetrainingSettingsError, match=r"holds 5\.0 MiB of Python, more than the 5 MiB"
    ):
        stage_retraining_source(training_code=str(tmp_path))


def test_training_code_within_the_budget_is_staged(tmp_path: Path) -> None:
    (tmp_path / "big_model_code.py").write_text("#" * MAX_TRAINING_CODE_BYTES)

    staged = stage_retraining_source(training_code=str(tmp_path))

    assert (
        staged / "training_code" / "big_model_code.py"
    ).stat().st_size == MAX_TRAINING_CODE_BYTES
