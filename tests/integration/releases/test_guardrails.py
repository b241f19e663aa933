"""Guardrails catch a candidate that fails 20% of its requests at 5% weight, which the
alias-wide alarms cannot see. Numbers are computed, then scored by the local alarm evaluator
against the canary alarms `canary start` creates and the static alarm the stack deploys."""

from __future__ import annotations

from typing import Any

from modelship import names
from modelship.local.alarms import evaluate_alarms
from modelship.local.template import resolve, resources_of_type
from modelship.releases.canary_alarms import alarm_prefix, canary_alarm_names
from tests.integration.release_template import refs, release_template
from tests.integration.release_world import (
    FUNCTION,
    MODEL,
    World,
    released,
    stable_on,
)

TOTAL_REQUESTS = 1000
CANARY_WEIGHT = 0.05
CANDIDATE_FAILURE_RATE = 0.20
THRESHOLD_PERCENT = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT


def _deploy_static_alarms(world: World) -> list[str]:
    """The stack's static guardrail alarms, as synthesized, created in moto."""
    template = release_template()
    created = []
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    for logical, resource in alarms.items():
        if not logical.startswith("Guardrails"):
            continue
        props: dict[str, Any] = resolve(resource["Properties"], refs(template), {})
        if "Metrics" not in props and props.get("Namespace") == "AWS/Lambda":
            props["Dimensions"] = [
                {"Name": d["Name"], "Value": str(d["Value"])} for d in props.get("Dimensions", [])
            ]
        world.cloudwatch.put_metric_alarm(**props)
        created.append(props["AlarmName"])
    return created


def _put_aggregate(world: World, requests: int, errors: int, model: str = MODEL) -> None:
    """What the predict handler's model-level metrics would sum to (all versions)."""
    dims = [
        {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
        {"Name": names.METRIC_DIMENSION_MODEL, "Value": model},
    ]
    world.cloudwatch.put_metric_data(
        Namespace=names.METRICS_NAMESPACE,
        MetricData=[
            {"MetricName": names.METRIC_REQUESTS, "Dimensions": dims, "Value": requests},
            {"MetricName": names.METRIC_PREDICTION_ERRORS, "Dimensions": dims, "Value": errors},
        ],
    )


def test_candidate_failing_20_percent_at_5_percent_weight_trips_only_its_own_alarm(
    world: World,
) -> None:
    # Given: 1000 requests, 5% to the candidate, which fails 20% of them; the stable fails none.
    candidate_requests = round(TOTAL_REQUESTS * CANARY_WEIGHT)  # 50
    candidate_errors = round(candidate_requests * CANDIDATE_FAILURE_RATE)  # 10
    stable_requests = TOTAL_REQUESTS - candidate_requests  # 950
    alias_wide_rate = 100 * candidate_errors / TOTAL_REQUESTS  # 1.0 %
    candidate_rate = 100 * candidate_errors / candidate_requests  # 20.0 %
    assert alias_wide_rate < THRESHOLD_PERCENT < candidate_rate

    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(CANARY_WEIGHT, candidate)
    static = _deploy_static_alarms(world)
    world.put_traffic("v2", requests=candidate_requests, errors=candidate_errors)
    world.put_traffic("v1", requests=stable_requests, errors=0)
    _put_aggregate(world, TOTAL_REQUESTS, candidate_errors)

    # When: CloudWatch scores the alarms.
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    # Then: the candidate's error-rate alarm fires; every alias-wide alarm stays quiet
    # (handled 5xx answers are not Lambda Errors, and 1% is under the 5% threshold).
    states = {
        a["AlarmName"]: a["StateValue"]
        for a in world.cloudwatch.describe_alarms(AlarmNamePrefix=alarm_prefix(FUNCTION))[
            "MetricAlarms"
        ]
    }
    error_alarm, latency_alarm = canary_alarm_names(FUNCTION, candidate)
    assert states[error_alarm] == "ALARM"
    assert states[latency_alarm] == "OK"
    assert len(static) == 3
    assert {states[name] for name in static} == {"OK"}
    rate_alarm = next(n for n in static if n.endswith("prediction-error-rate"))
    assert states[rate_alarm] == "OK"


def test_slow_candidate_trips_its_latency_alarm(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    world.put_traffic("v2", requests=50, errors=0, latency_ms=900.0)

    transitions = evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    fired = {t.alarm_name for t in transitions if t.new_state == "ALARM"}
    assert fired == {canary_alarm_names(FUNCTION, candidate)[1]}


def test_healthy_candidate_trips_nothing(world: World) -> None:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    world.put_traffic("v2", requests=50, errors=1)  # 2% < 5%

    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    assert world.releases().check_guardrails(candidate)  # raises if anything fires


def test_the_static_error_rate_alarm_reads_its_own_models_metrics_only(world: World) -> None:
    static = _deploy_static_alarms(world)
    rate_alarm = next(n for n in static if n.endswith("prediction-error-rate"))

    # Another model of the deployment failing every request is not this model's business.
    _put_aggregate(world, requests=100, errors=100, model="churn-forest")
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))
    assert _state(world, rate_alarm) == "OK"

    # This model answering 10% 5xx over 100 requests is.
    _put_aggregate(world, requests=100, errors=10)
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))
    assert _state(world, rate_alarm) == "ALARM"


def _state(world: World, alarm: str) -> str:
    (found,) = world.cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    return str(found["StateValue"])
