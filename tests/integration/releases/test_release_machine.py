"""The synthesized release state machine, executed by moto with its tasks running the real
release handler in-process: a good candidate is promoted, a failing one rolled back."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from modelship.local.alarms import evaluate_alarms
from modelship.local.events import execution_status_change_event
from modelship.releases.canary_alarms import alarm_prefix, canary_alarm_names
from modelship.sample_events import load_event
from tests.integration.release_template import deploy_release_resources
from tests.integration.release_world import (
    FUNCTION,
    World,
    released,
    stable_on,
)


def _run(world: World, machine: str, candidate: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    execution = world.sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps({"candidate": candidate, "steps": steps, "reason": "test"}),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        described: dict[str, Any] = world.sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    pytest.fail("the release state machine did not finish in 60 s")


@pytest.fixture
def machine(world: World) -> str:
    return deploy_release_resources(world)


def test_good_candidate_goes_through_every_step_and_is_promoted(world: World, machine: str) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    applied: list[float] = []
    world.runner.before_invoke = lambda name, version, event: (
        applied.append(event["weight"]) if event.get("action") == "apply_step" else None
    )

    result = _run(
        world,
        machine,
        candidate,
        [{"weight": 0.05, "bake_seconds": 0}, {"weight": 0.25, "bake_seconds": 1}],
    )

    assert result["status"] == "SUCCEEDED", result
    assert applied == [0.05, 0.25]
    assert world.alias()["FunctionVersion"] == candidate
    assert world.weights() == {}
    assert world.alarm_names() == []
    actions = [r.action for r in world.history()]
    assert actions[-3:] == ["canary_start", "canary_shift", "promote"]
    assert world.runner.errors() == []


def test_failing_candidate_is_rolled_back_and_the_execution_fails_with_the_cause(
    world: World, machine: str
) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    seen_weights: list[dict[str, float]] = []

    def traffic_then_evaluate(name: str, version: str, event: dict[str, Any]) -> None:
        # Between ApplyStep and CheckGuardrails the canary serves traffic: the candidate fails
        # 20% of its requests; CloudWatch (here: the local evaluator) scores its alarms.
        if event.get("action") == "check":
            seen_weights.append(world.weights())
            world.put_traffic("v2", requests=50, errors=10)
            world.put_traffic("v1", requests=950, errors=0)
            evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    world.runner.before_invoke = traffic_then_evaluate

    result = _run(
        world,
        machine,
        candidate,
        [{"weight": 0.05, "bake_seconds": 0}, {"weight": 0.5, "bake_seconds": 0}],
    )

    assert result["status"] == "FAILED"
    assert result.get("error") == "RolloutFailed"
    assert "GuardrailTripped" in result.get("cause", "")
    assert canary_alarm_names(FUNCTION, candidate)[0] in result.get("cause", "")
    assert seen_weights == [{candidate: 0.05}]  # it never reached 50%
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert world.alarm_names() == []
    last = world.history()[-1]
    assert last.action == "rollback"
    assert last.execution is not None
    assert last.execution == result["executionArn"]
    assert "GuardrailTripped" in last.reason
    # The history names the alarm that stopped the rollout.
    assert last.alarm == canary_alarm_names(FUNCTION, candidate)[0]


def test_stopped_rollout_leaves_live_on_the_stable_release(world: World, machine: str) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    execution = world.sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps({"candidate": candidate, "steps": [{"weight": 0.05, "bake_seconds": 30}]}),
    )["executionArn"]
    deadline = time.monotonic() + 30
    while world.weights() != {candidate: 0.05}:
        assert time.monotonic() < deadline, "the first step never applied"
        time.sleep(0.05)
    assert world.releases().status(world.sfn, machine).rollouts_running == [execution]

    # An operator stops the rollout while it bakes: no Catch runs, the alias keeps the canary...
    world.sfn.stop_execution(executionArn=execution, cause="operator stopped it")
    stopped = world.sfn.describe_execution(executionArn=execution)
    while stopped["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not stop"
        time.sleep(0.05)
        stopped = world.sfn.describe_execution(executionArn=execution)
    assert world.weights() == {candidate: 0.05}
    # AWS reports a stopped execution as ABORTED (moto 5.2.5 reports FAILED, States.Runtime).
    stopped = {**stopped, "status": "ABORTED", "error": None, "cause": "operator stopped it"}

    # ...until EventBridge delivers the ABORTED status to the rollback function (as deployed).
    response = world.lambda_.invoke(
        FunctionName="modelship-rollback",
        Payload=json.dumps(execution_status_change_event(stopped)),
    )

    assert json.loads(response["Payload"].read())["changed"] is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert world.history()[-1].execution == execution


def test_late_failed_event_of_an_earlier_rollout_leaves_a_later_promotion(
    world: World, machine: str
) -> None:
    # Rollout A of version 3 failed; rollout B of the same version then promoted it. A's
    # FAILED event, redelivered late by EventBridge, names the same candidate.
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    late = load_event("rollout_failed")
    assert json.loads(late["detail"]["input"])["candidate"] == candidate

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])
    assert result["status"] == "SUCCEEDED", result
    promotion = world.history()[-1]
    assert (promotion.action, promotion.execution) == ("promote", result["executionArn"])

    response = world.lambda_.invoke(FunctionName="modelship-rollback", Payload=json.dumps(late))

    assert json.loads(response["Payload"].read())["changed"] is False
    assert world.alias()["FunctionVersion"] == candidate
    assert world.weights() == {}
