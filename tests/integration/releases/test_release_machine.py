"""The synthesized release state machine, executed by moto with its tasks running the real
release handler in-process: a good candidate is promoted, a failing one rolled back."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from modelship import names
from modelship.local.alarms import evaluate_alarms
from modelship.local.events import execution_status_change_event
from modelship.local.moto_patches import compressed_waits
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
    judged: list[dict[str, Any]] = []
    traffic = world.judged_with_traffic()

    def before(name: str, version: str, event: dict[str, Any]) -> None:
        if event.get("action") == "apply_step":
            applied.append(event["weight"])
        if event.get("action") == "judge":
            judged.append(event)
        traffic(name, version, event)

    world.runner.before_invoke = before

    result = _run(
        world,
        machine,
        candidate,
        [{"weight": 0.05, "bake_seconds": 0}, {"weight": 0.25, "bake_seconds": 1}],
    )

    assert result["status"] == "SUCCEEDED", result
    assert applied == [0.05, 0.25]
    # Each step is judged once, at look 0, over its traffic since its weight was applied.
    assert [(e["step"], e["look"]) for e in judged] == [(0, 0), (1, 0)]
    history = world.history()
    starts = {r.action: r.time for r in history if r.action in ("canary_start", "canary_shift")}
    assert [datetime.fromisoformat(e["since"]) for e in judged] == [
        starts["canary_start"],
        starts["canary_shift"],
    ]
    assert world.alias()["FunctionVersion"] == candidate
    assert world.weights() == {}
    assert world.alarm_names() == []
    actions = [r.action for r in history]
    assert actions[-5:] == ["canary_start", "verdict", "canary_shift", "verdict", "promote"]
    verdicts = [r for r in history if r.action == "verdict"]
    assert [v.details["outcome"] for v in verdicts if v.details] == ["pass", "pass"]
    assert all(v.execution == result["executionArn"] for v in verdicts)
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
    world.runner.before_invoke = world.judged_with_traffic()

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])
    assert result["status"] == "SUCCEEDED", result
    promotion = world.history()[-1]
    assert (promotion.action, promotion.execution) == ("promote", result["executionArn"])

    response = world.lambda_.invoke(FunctionName="modelship-rollback", Payload=json.dumps(late))

    assert json.loads(response["Payload"].read())["changed"] is False
    assert world.alias()["FunctionVersion"] == candidate
    assert world.weights() == {}


@pytest.fixture
def fast_extensions() -> Iterator[None]:
    """Wait states 600 times shorter: the verdict's 120 s extensions take 0.2 s."""
    with compressed_waits(600):
        yield


def _judgements(world: World) -> list[Any]:
    return [r for r in world.history() if r.action == "verdict"]


def test_a_candidate_slower_than_stable_is_rolled_back_naming_latency(
    world: World, machine: str
) -> None:
    # 50% slower than stable, yet far below the p99 alarm's 500 ms: only the verdict sees it.
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.runner.before_invoke = world.judged_with_traffic(latency_ms=(20.0, 30.0))

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])

    assert result["status"] == "FAILED"
    assert result.get("error") == "RolloutFailed"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "CanaryVerdictFailed"
    assert cause["errorMessage"].startswith("fail: latency (candidate median 1.5")
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    (verdict,) = _judgements(world)
    assert verdict.details is not None
    assert verdict.details["outcome"] == "fail"
    assert (verdict.from_version, verdict.to_version) == (stable, candidate)
    latency = next(c for c in verdict.details["checks"] if c["name"] == "latency")
    assert (latency["outcome"], latency["stable_n"], latency["candidate_n"]) == ("fail", 2000, 200)
    last = world.history()[-1]
    assert last.action == "rollback"
    assert "CanaryVerdictFailed: fail: latency" in last.reason


def test_an_inconclusive_canary_is_extended_then_rolled_back(
    world: World, machine: str, fast_extensions: None
) -> None:
    # 20 candidate requests a look: never the 100 each side needs (the default policy).
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.runner.before_invoke = world.judged_with_traffic(candidate=(20, 0))

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])

    assert result["status"] == "FAILED"
    cause = json.loads(result["cause"])
    assert cause["errorType"] == "CanaryVerdictInconclusive"
    assert "too few requests on the candidate" in cause["errorMessage"]
    assert "after 3 extension(s)" in cause["errorMessage"]
    verdicts = _judgements(world)
    assert [(v.details or {}).get("look") for v in verdicts] == [0, 1, 2, 3]
    assert {(v.details or {}).get("outcome") for v in verdicts} == {"inconclusive"}
    assert [(v.details or {}).get("final") for v in verdicts] == [False, False, False, True]
    # The traffic added at each look is counted: the window is the whole step so far.
    requests = [(v.details or {})["checks"][0]["candidate_n"] for v in verdicts]
    assert requests == [20, 40, 60, 80]
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert "CanaryVerdictInconclusive" in world.history()[-1].reason


def test_an_inconclusive_canary_goes_on_when_the_deployment_says_proceed(
    world: World, fast_extensions: None
) -> None:
    machine = deploy_release_resources(
        world,
        release_env={
            names.ENV_VERDICT_ON_INCONCLUSIVE: "proceed",
            names.ENV_VERDICT_MAX_EXTENSIONS: "1",
        },
    )
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.runner.before_invoke = world.judged_with_traffic(candidate=(20, 0))

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])

    assert result["status"] == "SUCCEEDED", result
    assert world.alias()["FunctionVersion"] == candidate
    verdicts = _judgements(world)
    looks = [((v.details or {}).get("look"), (v.details or {}).get("outcome")) for v in verdicts]
    assert looks == [(0, "inconclusive"), (1, "inconclusive")]
    assert world.history()[-1].action == "promote"


def test_a_candidate_that_improves_during_an_extension_passes(
    world: World, machine: str, fast_extensions: None
) -> None:
    # Too little traffic at the first look; the extension brings enough.
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    looks: list[int] = []
    traffic = world.judged_with_traffic(candidate=(60, 0))

    def before(name: str, version: str, event: dict[str, Any]) -> None:
        if event.get("action") == "judge":
            looks.append(event["look"])
        traffic(name, version, event)

    world.runner.before_invoke = before

    result = _run(world, machine, candidate, [{"weight": 0.05, "bake_seconds": 0}])

    assert result["status"] == "SUCCEEDED", result
    assert looks == [0, 1]
    outcomes = [(v.details or {}).get("outcome") for v in _judgements(world)]
    assert outcomes == ["inconclusive", "pass"]


def test_status_shows_the_candidates_last_verdict(world: World, machine: str) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.runner.before_invoke = world.judged_with_traffic()
    # A long second bake keeps the canary up after its first step was judged.
    execution = world.sfn.start_execution(
        stateMachineArn=machine,
        input=json.dumps(
            {
                "candidate": candidate,
                "steps": [
                    {"weight": 0.05, "bake_seconds": 0},
                    {"weight": 0.25, "bake_seconds": 60},
                ],
            }
        ),
    )["executionArn"]
    deadline = time.monotonic() + 60
    while world.weights() != {candidate: 0.25}:
        assert time.monotonic() < deadline, "the second step never applied"
        time.sleep(0.05)

    status = world.releases().status()
    world.sfn.stop_execution(executionArn=execution)

    assert status.verdict is not None
    assert (status.verdict.outcome, status.verdict.execution) == ("pass", execution)
    assert (status.verdict.stable_requests, status.verdict.candidate_requests) == (2000, 200)
    data = status.as_dict()["verdict"]
    assert data["outcome"] == "pass"
    assert data["reason"].startswith("pass: errors, latency")
