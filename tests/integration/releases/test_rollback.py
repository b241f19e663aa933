"""The rollback function on sample events (events/alarm_*.json, events/rollout_*.json), run
in-process through moto's Lambda invoke: it clears the canary, never moves `live` anywhere but
the recorded stable release, and does no harm on repeated, late or unrelated events."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from modelship import names
from modelship.releases.canary_alarms import alarm_prefix, canary_alarm_names
from modelship.releases.rollback import abort_rollout, rollback, rollback_on_alarm
from modelship.sample_events import load_event
from tests.integration.release_world import (
    FUNCTION,
    World,
    released,
    stable_on,
)

ROLLBACK = "modelship-rollback"
# The execution of the sample rollout events (events/rollout_*.json).
ROLLOUT = load_event("rollout_aborted")["detail"]["executionArn"]


def _deploy_rollback(world: World, **env: str) -> None:
    world.create_function(ROLLBACK, names.ROLLBACK_HANDLER, world.release_env(**env))


def _invoke(world: World, event: dict[str, Any]) -> dict[str, Any]:
    response = world.lambda_.invoke(FunctionName=ROLLBACK, Payload=json.dumps(event))
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


@pytest.fixture
def canary(world: World) -> tuple[str, str]:
    """Stable release 2 (model v1) and a canary of release 3 (model v2) at 5%, started by the
    rollout of the sample events."""
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate, execution=ROLLOUT)
    assert (stable, candidate) == ("2", "3")
    _deploy_rollback(world)
    return stable, candidate


@pytest.mark.parametrize("sample", ["alarm_canary_errors", "alarm_canary_latency"])
def test_canary_alarm_clears_the_canary_and_records_the_alarm(
    world: World, canary: tuple[str, str], sample: str
) -> None:
    stable, candidate = canary
    event = load_event(sample)

    answer = _invoke(world, event)

    assert answer["changed"] is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert not set(canary_alarm_names(FUNCTION, candidate)) & set(world.alarm_names())
    record = world.history()[-1]
    assert record.action == "rollback"
    assert record.alarm == event["detail"]["alarmName"]
    assert "Threshold Crossed" in record.reason
    assert (record.from_version, record.to_version) == (candidate, stable)
    assert record.weights_before == {candidate: 0.05}
    assert record.weights_after == {}


def test_repeated_event_does_nothing_more(world: World, canary: tuple[str, str]) -> None:
    stable, _ = canary
    _invoke(world, load_event("alarm_canary_errors"))
    count = len(world.history())

    again = _invoke(world, load_event("alarm_canary_errors"))
    latency = _invoke(world, load_event("alarm_canary_latency"))

    assert again["changed"] is False
    assert latency["changed"] is False
    assert len(world.history()) == count
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}


def test_late_alarm_of_an_earlier_candidate_leaves_the_current_canary(
    world: World, canary: tuple[str, str]
) -> None:
    _, old = canary
    releases = world.releases()
    rollback(releases, reason="replaced")
    (newer,) = released(world, "v3")
    releases.start_canary(0.1, newer)

    answer = _invoke(world, load_event("alarm_canary_errors"))  # guards version 3

    assert answer["changed"] is False
    assert world.weights() == {newer: 0.1}
    assert old != newer


@pytest.mark.parametrize("sample", ["alarm_unrelated", "alarm_ok"])
def test_unrelated_or_ok_alarms_change_nothing(
    world: World, canary: tuple[str, str], sample: str
) -> None:
    _, candidate = canary
    count = len(world.history())

    answer = _invoke(world, load_event(sample))

    assert answer["changed"] is False
    assert world.weights() == {candidate: 0.05}
    assert len(world.history()) == count


def test_static_alarm_right_after_a_promotion_returns_to_the_previous_release(
    world: World, canary: tuple[str, str]
) -> None:
    stable, candidate = canary
    world.releases().promote()

    answer = _invoke(world, load_event("alarm_live_errors"))

    assert answer["changed"] is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    assert world.history()[-1].alarm.endswith("live-errors")  # type: ignore[union-attr]
    # Idempotent: the rollback is now the last change, so a repeat does nothing.
    assert _invoke(world, load_event("alarm_live_errors"))["changed"] is False
    assert world.alias()["FunctionVersion"] == stable
    assert candidate != stable


def test_static_alarm_long_after_a_promotion_is_ignored(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    world.releases().promote()
    _deploy_rollback(world, **{names.ENV_POST_PROMOTION_GUARD_SECONDS: "0"})

    answer = _invoke(world, load_event("alarm_live_errors"))

    assert answer["changed"] is False
    assert world.alias()["FunctionVersion"] == candidate


def test_static_alarm_during_a_canary_clears_it(world: World, canary: tuple[str, str]) -> None:
    stable, _ = canary

    assert _invoke(world, load_event("alarm_live_errors"))["changed"] is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}


@pytest.mark.parametrize("sample", ["rollout_aborted", "rollout_timed_out", "rollout_failed"])
def test_abandoned_rollout_leaves_live_on_the_stable_release(
    world: World, canary: tuple[str, str], sample: str
) -> None:
    stable, _ = canary
    event = load_event(sample)

    assert _invoke(world, event)["changed"] is True

    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    record = world.history()[-1]
    assert record.execution == event["detail"]["executionArn"]
    assert event["detail"]["status"] in record.reason
    assert _invoke(world, event)["changed"] is False  # a redelivered event does no harm


def test_rollout_stopped_after_its_promotion_undoes_the_promotion(
    world: World, canary: tuple[str, str]
) -> None:
    stable, candidate = canary
    world.releases().promote(candidate=candidate, execution=ROLLOUT)

    _invoke(world, load_event("rollout_aborted"))

    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}


def test_abandoned_rollout_leaves_a_canary_an_operator_took_over(
    world: World, canary: tuple[str, str]
) -> None:
    _, candidate = canary
    world.releases().shift(0.2, reason="operator takes over")

    assert _invoke(world, load_event("rollout_failed"))["changed"] is False
    assert world.weights() == {candidate: 0.2}


def test_abandoned_rollout_leaves_a_promotion_it_did_not_make(
    world: World, canary: tuple[str, str]
) -> None:
    _, candidate = canary
    world.releases().promote(reason="operator promotes by hand")

    assert _invoke(world, load_event("rollout_failed"))["changed"] is False
    assert world.alias()["FunctionVersion"] == candidate


def test_succeeded_rollout_is_left_alone(world: World, canary: tuple[str, str]) -> None:
    _, candidate = canary

    assert _invoke(world, load_event("rollout_succeeded"))["changed"] is False
    assert world.weights() == {candidate: 0.05}


def test_rollout_of_another_candidate_does_not_touch_this_canary(world: World) -> None:
    stable_on(world, "v1")
    other, mine = released(world, "v2", "v3")
    world.releases().start_canary(0.05, mine)
    _deploy_rollback(world)
    assert other == "3"  # the sample event's candidate

    assert _invoke(world, load_event("rollout_aborted"))["changed"] is False
    assert world.weights() == {mine: 0.05}


def test_static_alarm_right_after_a_canary_rollback_is_attributed_to_the_canary(
    world: World, canary: tuple[str, str]
) -> None:
    # A failing canary trips its own alarm and the function-wide one; whichever arrives
    # second must not undo the earlier promotion of a healthy release.
    _, candidate = canary
    releases = world.releases()
    releases.promote()
    (newer,) = released(world, "v3")
    releases.start_canary(0.05, newer)
    rollback(releases, reason="canary alarm")

    assert _invoke(world, load_event("alarm_live_errors"))["changed"] is False
    assert world.alias()["FunctionVersion"] == candidate
    assert world.history()[-1].action == "rollback"


def test_static_alarm_long_after_a_canary_rollback_still_returns(
    world: World, canary: tuple[str, str]
) -> None:
    # A release created (and a canary of it rolled back) since the promotion does not change
    # which release was stable before it, once the canary's errors are out of the window.
    stable, candidate = canary
    releases = world.releases()
    releases.promote()
    (newer,) = released(world, "v3")
    releases.start_canary(0.05, newer)
    rollback(releases, reason="not yet")
    later = world.history()[-1].time + timedelta(minutes=5)

    outcome = rollback_on_alarm(
        world.releases(clock=lambda: later),
        f"{alarm_prefix(FUNCTION)}live-errors",
        "Threshold Crossed",
    )

    assert outcome.changed is True
    assert world.alias()["FunctionVersion"] == stable
    assert candidate != stable


def test_release_task_sample_events_start_and_check_a_canary(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.create_function("modelship-release", names.RELEASE_HANDLER, world.release_env())

    def task(sample: str) -> dict[str, Any]:
        response = world.lambda_.invoke(
            FunctionName="modelship-release", Payload=json.dumps(load_event(sample))
        )
        assert "FunctionError" not in response
        answer: dict[str, Any] = json.loads(response["Payload"].read())
        return answer

    applied = task("release_task_apply_step")
    checked = task("release_task_check")

    assert applied["changed"] is True
    assert world.weights() == {candidate: 0.05}
    assert set(checked["alarms"]) == set(canary_alarm_names(FUNCTION, candidate))


def test_a_rollout_that_adopts_a_running_canary_owns_it(world: World) -> None:
    # The rollout's first step finds its candidate already at that weight (started by hand):
    # from then on the canary is the rollout's, and its abandonment clears it.
    from modelship.releases.rollout import RolloutTask, perform_task

    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    releases = world.releases()
    releases.start_canary(0.05, candidate)
    step = RolloutTask(
        action="apply_step", candidate=candidate, weight=0.05, step=0, execution=ROLLOUT
    )

    perform_task(releases, step)
    outcome = abort_rollout(releases, candidate, reason="rollout ABORTED", execution=ROLLOUT)

    assert outcome.changed is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}


def _rollback_task(world: World, candidate: str, error_type: str, message: str) -> None:
    from modelship.releases.rollout import RolloutTask, perform_task

    # The Cause the release state machine's Catch hands over for a Lambda error.
    cause = json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": []})
    task = RolloutTask(action="rollback", candidate=candidate, cause=cause, execution=ROLLOUT)
    assert perform_task(world.releases(), task)["changed"] is True


def test_a_rollout_stopped_by_a_guardrail_names_the_alarm_in_the_history(
    world: World, canary: tuple[str, str]
) -> None:
    stable, candidate = canary
    errors, _ = canary_alarm_names(FUNCTION, candidate)
    static = f"{alarm_prefix(FUNCTION)}live-error-rate"
    reason = "Threshold Crossed: 1 datapoint [40.0 (01/01/25 00:00:00)] was > 5.0; (one)"

    _rollback_task(
        world,
        candidate,
        "GuardrailTripped",
        f"guardrail alarm in ALARM: {errors} ({reason}); {static}",
    )

    record = world.history()[-1]
    assert (record.action, record.to_version) == ("rollback", stable)
    assert record.alarm == errors
    assert record.execution == ROLLOUT
    assert "GuardrailTripped" in record.reason


@pytest.mark.parametrize(
    ("error_type", "message"),
    [
        ("NoCanary", "the canary of version 3 is gone (rolled back?); rollout stopped"),
        # Not a guardrail of this function: nothing to name.
        ("GuardrailTripped", "guardrail alarm in ALARM: modelship-guardrail-other-fn-errors"),
        ("GuardrailTripped", "guardrail alarm in ALARM: "),
    ],
)
def test_a_rollout_stopped_for_another_reason_names_no_alarm(
    world: World, canary: tuple[str, str], error_type: str, message: str
) -> None:
    _, candidate = canary

    _rollback_task(world, candidate, error_type, message)

    record = world.history()[-1]
    assert record.action == "rollback"
    assert record.alarm is None
    assert error_type in record.reason
