"""Which deployed model a command addresses (modelship.cli.targets.resolve_target), on the
parsed command lines of the real parser; the model directory is served from fake pages."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

import modelship.cli.targets as targets
from modelship.cli.main import build_parser
from modelship.errors import CommandFailed, UsageError
from modelship.releases.directory import ModelDirectory
from tests.unit.releases.test_directory import FakeSsm, parameter, value

STACK = "modelship-prod"
ENVIRONMENT = (
    "MODELSHIP_STACK",
    "MODELSHIP_MODEL",
    "MODELSHIP_FUNCTION",
    "MODELSHIP_ALIAS",
    "MODELSHIP_BUCKET",
    "MODEL_BUCKET",
    "MODELSHIP_RELEASE_STATE_MACHINE",
    "MODELSHIP_RETRAIN_STATE_MACHINE",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ENVIRONMENT:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def directory(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serves a two-model stack; returns the stacks that were read."""
    read: list[str] = []

    def model_directory(stack: str) -> ModelDirectory:
        read.append(stack)
        ssm = FakeSsm(
            [
                parameter("churn-forest", value("churn-forest", retrain_state_machine="arn:rt")),
                parameter("churn", value("churn", default=True)),
            ]
        )
        return ModelDirectory(ssm, stack)

    monkeypatch.setattr(targets, "model_directory", model_directory)
    return read


def parsed(*argv: str) -> argparse.Namespace:
    return build_parser(argv[0]).parse_args(list(argv))


def test_an_explicit_function_wins_and_reads_no_directory(directory: list[str]) -> None:
    target = targets.resolve_target(
        parsed("promote", "--function", "fn", "--bucket", "b", "--stack", STACK, "--model", "x")
    )

    assert (target.function, target.bucket, target.model) == ("fn", "b", None)
    assert directory == []


def test_a_model_of_a_stack_gives_function_alias_bucket_and_machines(
    directory: list[str],
) -> None:
    target = targets.resolve_target(parsed("status", "--stack", STACK, "--model", "churn-forest"))

    assert directory == [STACK]
    assert target.function_name() == "churn-forest-fn"
    assert (target.alias, target.bucket_name()) == ("live", "models-bucket")
    assert target.release_machine().endswith(":stateMachine:churn-forest-release")
    assert target.retrain_machine() == "arn:rt"


def test_explicit_options_go_on_top_of_the_entry(directory: list[str]) -> None:
    argv = ("--stack", STACK, "--model", "churn", "--alias", "blue", "--state-machine", "arn:sm")
    target = targets.resolve_target(parsed("status", *argv))

    assert (target.function, target.alias, target.release_state_machine) == (
        "churn-fn",
        "blue",
        "arn:sm",
    )


def test_with_a_stack_the_environment_of_another_model_does_not_apply(
    directory: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHIP_STACK", STACK)
    monkeypatch.setenv("MODELSHIP_MODEL", "churn")
    monkeypatch.setenv("MODELSHIP_FUNCTION", "default-fn")
    monkeypatch.setenv("MODELSHIP_ALIAS", "other")
    monkeypatch.setenv("MODELSHIP_RETRAIN_STATE_MACHINE", "arn:default-retrain")

    target = targets.resolve_target(parsed("rollback"))

    assert (target.stack, target.function, target.alias) == (STACK, "churn-fn", "live")
    with pytest.raises(
        CommandFailed, match="model churn of stack modelship-prod has no retraining"
    ):
        target.retrain_machine()


def test_without_a_stack_the_environment_addresses_the_function_as_before(
    directory: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHIP_FUNCTION", "fn")
    monkeypatch.setenv("MODEL_BUCKET", "b")
    monkeypatch.setenv("MODELSHIP_RELEASE_STATE_MACHINE", "arn:release")
    monkeypatch.setenv("MODELSHIP_MODEL", "churn")  # names a deployment's model: no stack here

    target = targets.resolve_target(parsed("rollout", "--plan", "100"))

    assert (target.function, target.alias, target.bucket) == ("fn", "live", "b")
    assert target.release_machine() == "arn:release"
    assert directory == []


def test_the_only_model_needs_no_model_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    only = ModelDirectory(FakeSsm([parameter("churn", value("churn"))]), STACK)
    monkeypatch.setattr(targets, "model_directory", lambda stack: only)

    assert targets.resolve_target(parsed("history", "--stack", STACK)).function == "churn-fn"


def test_several_models_and_no_model_flag_names_them(directory: list[str]) -> None:
    with pytest.raises(UsageError) as raised:
        targets.resolve_target(parsed("canary", "shift", "--weight", "5%", "--stack", STACK))

    assert raised.value.reason == "model_required"
    assert "deploys 2 models (churn, churn-forest): pick one with --model" in str(raised.value)


def test_model_without_a_stack_is_refused_except_as_the_name_release_create_pins(
    directory: list[str],
) -> None:
    with pytest.raises(UsageError, match="--model picks a model of a deployment"):
        targets.resolve_target(parsed("promote", "--model", "churn", "--function", "fn"))

    args = parsed("release", "create", "--model", "churn", "--function", "fn")
    assert targets.resolve_target(args).function == "fn"
    assert args.model == "churn"


def test_no_stack_and_no_function_says_how_to_address_one() -> None:
    target = targets.resolve_target(parsed("status"))

    with pytest.raises(UsageError, match=r"--function is required .* or --stack"):
        target.function_name()
    with pytest.raises(UsageError, match="--bucket is required"):
        target.bucket_name()


@pytest.mark.parametrize(
    "argv",
    [
        ["release", "create"],
        ["canary", "start", "--weight", "5%"],
        ["canary", "shift", "--weight", "5%"],
        ["promote"],
        ["rollback"],
        ["status"],
        ["history"],
        ["rollout", "--plan", "100"],
        ["retrain"],
    ],
)
def test_every_command_that_addresses_a_deployed_model_takes_stack_and_model(
    argv: list[str],
) -> None:
    args: Any = parsed(*argv, "--stack", STACK, "--model", "churn")

    assert (args.stack, args.model) == (STACK, "churn")
