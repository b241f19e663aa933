"""The release commands end to end against moto: `modelship.cli.main([...])`."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from modelship.cli import main
from modelship.errors import InvalidRolloutPlan, InvalidWeight
from modelship.releases.plan import PlanStep, parse_duration, parse_plan, parse_weight
from tests.conftest import BUCKET
from tests.integration.release_template import deploy_release_resources
from tests.integration.release_world import (
    FUNCTION,
    World,
)

TARGET = ["--function", FUNCTION, "--bucket", BUCKET]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Runs a command with --output json; returns (exit status, parsed stdout, stderr)."""
    status = main([*argv, *TARGET, "--output", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def test_release_canary_promote_and_rollback_through_the_cli(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, first, _ = run(capsys, "release", "create", "v1", "--reason", "first")
    assert status == 0
    assert first["model_version"] == "v1"
    assert run(capsys, "promote", "--version", first["version"])[0] == 0

    status, second, _ = run(capsys, "release", "create", "v2")
    assert status == 0
    status, started, _ = run(capsys, "canary", "start", "--weight", "10%")
    assert status == 0
    assert started["changed"] is True
    assert world.weights() == {second["version"]: 0.1}

    status, shown, _ = run(capsys, "status")
    assert status == 0
    assert shown["stable"]["model_version"] == "v1"
    assert shown["candidate"]["model_version"] == "v2"
    assert shown["candidate_weight"] == 0.1

    assert run(capsys, "canary", "shift", "--weight", "0.5")[0] == 0
    assert world.weights() == {second["version"]: 0.5}
    assert run(capsys, "promote")[0] == 0
    assert world.alias()["FunctionVersion"] == second["version"]
    assert world.weights() == {}

    status, rolled, _ = run(capsys, "rollback", "--reason", "regression")
    assert status == 0
    assert rolled["record"]["to_version"] == first["version"]
    assert world.alias()["FunctionVersion"] == first["version"]
    assert world.weights() == {}

    status, history, _ = run(capsys, "history")
    actions = [r["action"] for r in history["records"]]
    assert actions == [
        "create",
        "promote",
        "create",
        "canary_start",
        "canary_shift",
        "promote",
        "rollback",
    ]
    assert history["records"][-1]["reason"] == "regression"


def test_text_output_of_status_and_history(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["release", "create", "v1", *TARGET]) == 0
    capsys.readouterr()
    assert main(["promote", "--version", "2", *TARGET]) == 0
    assert main(["release", "create", "v2", *TARGET]) == 0
    assert main(["canary", "start", "--weight", "5%", *TARGET]) == 0
    capsys.readouterr()

    assert main(["status", *TARGET]) == 0
    status_text = capsys.readouterr().out
    assert main(["history", *TARGET]) == 0
    history_text = capsys.readouterr().out

    assert "candidate  v3" in status_text
    assert "5.0%" in status_text
    assert "canary-v3-error-rate" in status_text
    assert "canary_start" in history_text
    assert "by arn:aws:" in history_text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["canary", "start", "--weight", "150%"], "between 0 and 1"),
        (["canary", "start", "--weight", "5"], "ambiguous"),
        (["canary", "shift", "--weight", "0.2"], "no canary"),
        (["promote"], "no canary"),
        (["rollback"], "no canary"),
        (["release", "create", "v9"], "v9"),
    ],
)
def test_refusals_exit_1_with_one_line(
    world: World, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(["release", "create", "v1", *TARGET]) == 0
    capsys.readouterr()

    status = main([*argv, *TARGET])

    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error [")
    assert message in err
    assert err.count("\n") == 1
    assert world.weights() == {}


def test_missing_function_is_a_one_line_failure(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--bucket", BUCKET]) == 1
    assert "--function is required" in capsys.readouterr().err


def test_rollout_runs_the_state_machine_and_shows_progress(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = deploy_release_resources(world)
    assert main(["release", "create", "v1", *TARGET]) == 0
    assert main(["promote", "--version", "2", *TARGET]) == 0
    assert main(["release", "create", "v2", *TARGET]) == 0
    world.runner.before_invoke = world.judged_with_traffic()
    capsys.readouterr()

    status = main(
        [
            "rollout",
            "--plan",
            "5:0s,25:1s,100",
            "--state-machine",
            machine,
            "--poll",
            "0.2",
            *TARGET,
        ]
    )

    out = capsys.readouterr().out
    assert status == 0, out
    assert "5% for 0s, 25% for 1s, then promote" in out
    assert "ApplyStep" in out
    assert "Judge  look 0" in out
    assert "Extend?  verdict pass: pass: errors, latency" in out
    assert "Promote" in out
    assert "rollout SUCCEEDED" in out
    assert world.alias()["FunctionVersion"] == "3"
    assert world.weights() == {}


def test_rollout_is_refused_while_a_canary_runs(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    machine = deploy_release_resources(world)
    for argv in (
        ["release", "create", "v1"],
        ["promote", "--version", "2"],
        ["release", "create", "v2"],
        ["canary", "start", "--weight", "5%"],
    ):
        assert main([*argv, *TARGET]) == 0
    capsys.readouterr()

    status = main(["rollout", "--plan", "5:0s,100", "--state-machine", machine, *TARGET])

    assert status == 1
    assert "canary of version 3 is running" in capsys.readouterr().err
    assert world.sfn.list_executions(stateMachineArn=machine)["executions"] == []


@pytest.mark.parametrize(("text", "weight"), [("0.05", 0.05), ("5%", 0.05), ("12.5%", 0.125)])
def test_weights_accept_fractions_and_percentages(text: str, weight: float) -> None:
    assert parse_weight(text) == pytest.approx(weight)


@pytest.mark.parametrize("text", ["5", "abc", "%"])
def test_ambiguous_or_bad_weights_are_refused(text: str) -> None:
    with pytest.raises(InvalidWeight):
        parse_weight(text)


def test_plan_parses_any_steps_and_durations() -> None:
    assert parse_plan("5:5m,25:10m,100") == (PlanStep(0.05, 300), PlanStep(0.25, 600))
    assert parse_plan("1:30s, 10:1h, 50:90s, 100%") == (
        PlanStep(0.01, 30),
        PlanStep(0.1, 3600),
        PlanStep(0.5, 90),
    )
    assert parse_duration("1.5m") == 90


@pytest.mark.parametrize(
    "plan",
    [
        "5:5m,25:10m",
        "100",
        "5,100",
        "25:1m,5:1m,100",
        "0:1m,100",
        "5:soon,100",
        "",
        "99.99999:1m,100",
        "0.00001:1m,100",
        "nan:1m,100",
        "5:1m,5.0000001:1m,100",
        "50:90,100",
        "5:1500ms,100",
    ],
)
def test_bad_plans_are_refused(plan: str) -> None:
    with pytest.raises(InvalidRolloutPlan):
        parse_plan(plan)


def test_target_comes_from_the_environment(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHIP_FUNCTION", FUNCTION)
    monkeypatch.setenv("MODELSHIP_BUCKET", BUCKET)

    status = main(["status", "--output", "json"])

    assert status == 0
    assert json.loads(capsys.readouterr().out)["function"] == FUNCTION


def test_ctrl_c_stops_following_not_the_rollout(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    machine = deploy_release_resources(world)
    for argv in (["release", "create", "v1"], ["promote", "--version", "2"]):
        assert main([*argv, *TARGET]) == 0
    assert main(["release", "create", "v2", *TARGET]) == 0
    world.runner.before_invoke = world.judged_with_traffic()
    capsys.readouterr()

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt
        yield  # a generator, like the real follow

    monkeypatch.setattr("modelship.releases.rollout.follow", interrupted)
    status = main(["rollout", "--plan", "5:0s,100", "--state-machine", machine, *TARGET])

    captured = capsys.readouterr()
    assert status == 0
    assert "stopped following; the rollout goes on" in captured.err
    assert "still running" in captured.out
    # The rollout goes on without anyone following it, to the end.
    (execution,) = world.sfn.list_executions(stateMachineArn=machine)["executions"]
    deadline = time.monotonic() + 30
    while (
        world.sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    final = world.sfn.describe_execution(executionArn=execution["executionArn"])
    assert final["status"] == "SUCCEEDED"
    assert world.alias()["FunctionVersion"] == "3"
