"""Many models, one deployment, through the CLI against moto: `--stack` reads the model
directory in SSM (one parameter per model, as the CDK app writes it) and `--model` picks the
function, alias, bucket and state machines every command acts on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sklearn

from modelship import names
from modelship.cli import main
from modelship.registry.registry import Registry
from tests.conftest import BUCKET
from tests.integration.release_template import deploy_release_resources
from tests.integration.release_world import ALIAS, FUNCTION, World, open_world, retitle

STACK = "modelship-test"
FOREST = "churn-forest"
FOREST_FUNCTION = "modelship-predict-forest"


def entry(model: str, function: str, *, default: bool = False, **extra: Any) -> dict[str, Any]:
    """A directory value in the contract's format (what the CDK app writes)."""
    return {
        "model": model,
        "default": default,
        "function": function,
        "alias": ALIAS,
        "bucket": BUCKET,
        "release_state_machine": "",
        "retrain_state_machine": "",
        "api_path": names.model_routes_prefix(model),
        **extra,
    }


def put_entry(ssm: Any, value: dict[str, Any] | str, model: str, stack: str = STACK) -> None:
    ssm.put_parameter(
        Name=names.model_directory_parameter(stack, model),
        Type="String",
        Value=value if isinstance(value, str) else json.dumps(value),
        Overwrite=True,
    )


def add_model_function(world: World, model: str, function: str) -> None:
    """A second predict function serving `model`, with its bootstrap version and alias, and
    model versions v1-v2 of that name in the shared bucket."""
    world.create_function(
        function,
        names.PREDICT_HANDLER,
        {
            names.ENV_MODEL_BUCKET: BUCKET,
            names.ENV_MODEL_NAME: model,
            names.ENV_MODEL_CACHE_DIR: str(world.work / f"cache-{model}"),
            names.ENV_LAYER_SKLEARN_VERSION: sklearn.__version__,
        },
    )
    bootstrap = world.lambda_.publish_version(FunctionName=function, Description="bootstrap")
    world.lambda_.create_alias(
        FunctionName=function, Name=ALIAS, FunctionVersion=bootstrap["Version"]
    )
    copies = world.work / model
    copies.mkdir()
    for version in ("v1", "v2"):
        Registry(world.s3, BUCKET).publish(retitle(world.model_dir, copies, version, name=model))


@pytest.fixture
def two_models(reference_model_dir: Path, tmp_path: Path) -> Iterator[World]:
    """churn (the default, on the world's function) and churn-forest (its own function), both
    listed in the stack's model directory."""
    with open_world(reference_model_dir, tmp_path) as world:
        add_model_function(world, FOREST, FOREST_FUNCTION)
        ssm = boto3.client("ssm", region_name="us-east-1")
        put_entry(ssm, entry("churn", FUNCTION, default=True), "churn")
        put_entry(ssm, entry(FOREST, FOREST_FUNCTION), FOREST)
        yield world


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main([*argv, "--output", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def alias_of(world: World, function: str) -> dict[str, Any]:
    alias = world.lambda_.get_alias(FunctionName=function, Name=ALIAS)
    return {key: alias.get(key) for key in ("FunctionVersion", "RoutingConfig", "RevisionId")}


def test_a_canary_of_one_model_leaves_the_other_models_alias_untouched(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given both models serving a promoted release
    for model, version in (("churn", "v1"), (FOREST, "v1")):
        status, created, err = run(
            capsys, "release", "create", version, "--stack", STACK, "--model", model
        )
        assert status == 0, err
        assert created["model_name"] == model
        status, _, err = run(
            capsys, "promote", "--version", created["version"], "--stack", STACK, "--model", model
        )
        assert status == 0, err
    churn_before = alias_of(two_models, FUNCTION)

    # When churn-forest gets a new release, a canary, a shift and a rollback
    status, created, err = run(
        capsys, "release", "create", "v2", "--stack", STACK, "--model", FOREST
    )
    assert status == 0, err
    forest = ["--stack", STACK, "--model", FOREST]
    assert run(capsys, "canary", "start", "--weight", "10%", *forest)[0] == 0
    assert alias_of(two_models, FOREST_FUNCTION)["RoutingConfig"] == {
        "AdditionalVersionWeights": {created["version"]: 0.1}
    }
    assert alias_of(two_models, FUNCTION) == churn_before
    assert run(capsys, "canary", "shift", "--weight", "0.5", *forest)[0] == 0
    status, rolled, err = run(capsys, "rollback", "--reason", "regression", *forest)
    assert status == 0, err
    assert rolled["action"] == "rollback"

    # Then churn's alias is exactly as it was, and each model's history is its own
    assert alias_of(two_models, FUNCTION) == churn_before
    assert not (alias_of(two_models, FOREST_FUNCTION)["RoutingConfig"] or {}).get(
        "AdditionalVersionWeights"
    )
    _, churn_history, _ = run(capsys, "history", "--stack", STACK, "--model", "churn")
    _, forest_history, _ = run(capsys, "history", *forest)
    assert [r["action"] for r in churn_history["records"]] == ["create", "promote"]
    assert [r["action"] for r in forest_history["records"]] == [
        "create",
        "promote",
        "create",
        "canary_start",
        "canary_shift",
        "rollback",
    ]


def test_status_of_a_stack_is_one_row_per_model(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    for model, version in (("churn", "v1"), (FOREST, "v1")):
        assert main(["release", "create", version, "--stack", STACK, "--model", model]) == 0
        assert main(["promote", "--version", "2", "--stack", STACK, "--model", model]) == 0
    assert main(["release", "create", "v2", "--stack", STACK, "--model", FOREST]) == 0
    assert main(["canary", "start", "--weight", "5%", "--stack", STACK, "--model", FOREST]) == 0
    capsys.readouterr()

    status, rows, err = run(capsys, "status", "--stack", STACK)

    assert status == 0, err
    assert [(r["model"], r["default"], r["function"]) for r in rows] == [
        ("churn", True, FUNCTION),
        (FOREST, False, FOREST_FUNCTION),
    ]
    assert rows[0]["stable"]["model_version"] == "v1"
    assert rows[0]["candidate"] is None
    assert (rows[1]["stable"]["model_name"], rows[1]["stable"]["model_version"]) == (FOREST, "v1")
    assert rows[1]["candidate"]["version"] == "3"
    assert rows[1]["candidate_weight"] == 0.05

    assert main(["status", "--stack", STACK]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["MODEL", "STABLE", "CANDIDATE", "ALARMS", "IN", "ALARM", "ROLLOUT"]
    assert lines[1].split() == ["churn", "(default)", "v2", "v1", "none", "none", "none"]
    assert lines[2].split()[:5] == [FOREST, "v2", "v1", "v3", "v2"]
    assert "5.0%" in lines[2]


def test_status_table_shows_alarms_in_alarm_and_the_running_rollout(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = deploy_release_resources(two_models)
    ssm = boto3.client("ssm", region_name="us-east-1")
    put_entry(ssm, entry("churn", FUNCTION, default=True, release_state_machine=machine), "churn")
    for argv in (["release", "create", "v1"], ["promote", "--version", "2"]):
        assert main([*argv, "--stack", STACK, "--model", "churn"]) == 0
    assert main(["release", "create", "v2", "--stack", STACK, "--model", "churn"]) == 0
    assert main(["canary", "start", "--weight", "5%", "--stack", STACK, "--model", "churn"]) == 0
    alarm = f"{names.guardrail_alarm_prefix(FUNCTION)}canary-v3-error-rate"
    two_models.cloudwatch.set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="test breach"
    )
    capsys.readouterr()

    status, rows, err = run(capsys, "status", "--stack", STACK)

    assert status == 0, err
    churn = rows[0]
    assert {"name": alarm, "state": "ALARM"} in churn["alarms"]
    assert rows[1]["alarms"] == []
    assert main(["status", "--stack", STACK]) == 0
    table = capsys.readouterr().out.splitlines()
    assert "canary-v3-error-rate" in table[1]
    assert "canary-v3-error-rate" not in table[2]


def test_the_only_model_of_a_stack_needs_no_model_flag(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    put_entry(boto3.client("ssm", region_name="us-east-1"), entry("churn", FUNCTION), "churn")
    monkeypatch.setenv("MODELSHIP_STACK", STACK)
    monkeypatch.setenv("MODELSHIP_FUNCTION", "not-this-one")  # the stack wins over it

    status, created, err = run(capsys, "release", "create", "v1")

    assert status == 0, err
    assert created["model_name"] == "churn"
    assert world.releases().version_info(created["version"]).model_version == "v1"


def test_the_directory_entry_wins_over_the_environment_of_another_model(
    two_models: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`local up` exports the default model's alias and state machines: with --model they
    must not address churn-forest's rollout to churn's machine."""
    machine = deploy_release_resources(two_models)
    monkeypatch.setenv("MODELSHIP_STACK", STACK)
    monkeypatch.setenv("MODELSHIP_MODEL", FOREST)
    monkeypatch.setenv("MODELSHIP_ALIAS", "not-an-alias")
    monkeypatch.setenv("MODELSHIP_RELEASE_STATE_MACHINE", machine)

    status, shown, err = run(capsys, "status")
    assert status == 0, err
    assert (shown["function"], shown["alias"], shown["rollouts"]) == (FOREST_FUNCTION, ALIAS, [])

    status, _, err = run(capsys, "rollout", "--plan", "5:0s,100", "--version", "1")
    assert status == 1
    assert "model churn-forest of stack modelship-test lists no release state machine" in err
    assert two_models.sfn.list_executions(stateMachineArn=machine)["executions"] == []


def test_the_retrain_state_machine_comes_from_the_model(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    machine = two_models.sfn.create_state_machine(
        name="modelship-retrain-forest",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=two_models.role_arn,
    )["stateMachineArn"]
    put_entry(ssm, entry(FOREST, FOREST_FUNCTION, retrain_state_machine=machine), FOREST)

    status, started, err = run(capsys, "retrain", "--stack", STACK, "--model", FOREST)
    assert status == 0, err
    assert started["execution_arn"].startswith(machine.replace(":stateMachine:", ":execution:"))

    err = run(capsys, "retrain", "--stack", STACK, "--model", "churn")[2]
    assert "model churn of stack modelship-test has no retraining pipeline" in err


# ---- refusals: one line, naming what is wrong


def failure(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    status, _, err = run(capsys, *argv)
    assert status == 1
    error: dict[str, str] = json.loads(err)["error"]
    return error


def test_an_unknown_model_is_refused_naming_the_deployed_ones(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    error = failure(capsys, "canary", "start", "--weight", "5%", "--stack", STACK, "--model", "x")

    assert error["reason"] == "model_not_deployed"
    assert (
        error["message"] == "stack modelship-test has no model 'x'; its models: churn, churn-forest"
    )


def test_several_models_and_no_model_flag_is_refused_naming_them(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = alias_of(two_models, FUNCTION), alias_of(two_models, FOREST_FUNCTION)

    error = failure(capsys, "canary", "start", "--weight", "5%", "--stack", STACK)

    assert error["reason"] == "model_required"
    assert "deploys 2 models (churn, churn-forest): pick one with --model" in error["message"]
    assert (alias_of(two_models, FUNCTION), alias_of(two_models, FOREST_FUNCTION)) == before


def test_a_malformed_directory_parameter_is_named(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    put_entry(ssm, '{"model": "churn-forest", "function": ', FOREST)

    error = failure(capsys, "status", "--stack", STACK, "--model", "churn")

    assert error["reason"] == "invalid_model_directory"
    assert error["message"] == f"parameter /modelship/{STACK}/models/{FOREST} is not JSON"


def test_a_stack_with_no_models_says_so(
    two_models: World, capsys: pytest.CaptureFixture[str]
) -> None:
    error = failure(capsys, "status", "--stack", "modelship-other")

    assert error["reason"] == "deployment_not_found"
    assert "stack modelship-other has no models deployed" in error["message"]
    assert "MODELSHIP_STACK" in error["message"]


def test_no_stack_and_no_function_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    error = failure(capsys, "promote", "--bucket", BUCKET)

    assert error["reason"] == "usage"
    assert "--function is required (or set MODELSHIP_FUNCTION), or --stack" in error["message"]


def test_model_without_a_stack_is_refused_but_release_create_keeps_its_model_name(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--function", FUNCTION, "--bucket", BUCKET]
    error = failure(capsys, "status", "--model", "churn", "--bucket", BUCKET)
    assert error["reason"] == "usage"
    assert "--model picks a model of a deployment: give --stack" in error["message"]

    status, created, err = run(capsys, "release", "create", "v1", "--model", "churn", *target)
    assert status == 0, err
    assert created["model_name"] == "churn"
    assert failure(capsys, "release", "create", "v1", "--model", "other", *target)["reason"] == (
        "incompatible_release"
    )
