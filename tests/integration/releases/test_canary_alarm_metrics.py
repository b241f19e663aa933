"""The canary alarms read what the candidate's predict handler really emits: its EMF output,
turned into metric data as CloudWatch Logs does (modelship.local.metrics), is what the alarms
`canary start` creates score, and another model's numbers never reach them."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

from modelship import names
from modelship.local.alarms import evaluate_alarms
from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.local.metrics import emf_metric_data
from modelship.registry.registry import artifact_key
from modelship.releases.canary_alarms import alarm_prefix, canary_alarm_names
from modelship.sample_events import load_event
from tests.conftest import BUCKET
from tests.integration.release_world import FUNCTION, MODEL, World, released, stable_on

REQUESTS = 20


def _run_handler(env: dict[str, str], requests: int) -> tuple[list[int], list[dict[str, Any]]]:
    """Cold-starts the predict handler with `env`; its statuses and EMF documents."""
    out = io.StringIO()
    with patched_environ({**env, "POWERTOOLS_TRACE_DISABLED": "true"}), redirect_stdout(out):
        _, handler = load_handler(names.PREDICT_HANDLER)
        statuses = [
            handler(load_event("predict_valid"), FakeLambdaContext())["statusCode"]
            for _ in range(requests)
        ]
    documents = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    return statuses, documents


def _version_env(world: World, version: str) -> dict[str, str]:
    config = world.lambda_.get_function_configuration(FunctionName=FUNCTION, Qualifier=version)
    return dict(config["Environment"]["Variables"])


def _put(world: World, documents: list[dict[str, Any]]) -> list[frozenset[tuple[str, str]]]:
    """Puts the documents' metric data; returns the dimension sets they carried."""
    sets = []
    for document in documents:
        for namespace, datum in emf_metric_data(document):
            world.cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])
            sets.append(frozenset((d["Name"], d["Value"]) for d in datum["Dimensions"]))
    return sets


def _alarm(world: World, name: str) -> dict[str, Any]:
    alarm: dict[str, Any] = world.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    return alarm


def _canary_with_a_broken_candidate(world: World) -> str:
    stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    # Its artifact is gone after the release checked it: every request it gets is a 503.
    world.s3.delete_object(Bucket=BUCKET, Key=artifact_key(MODEL, "v2"))
    return candidate


def test_the_canary_alarms_watch_the_dimension_set_the_candidates_handler_emits(
    world: World,
) -> None:
    candidate = _canary_with_a_broken_candidate(world)
    error_alarm, latency_alarm = canary_alarm_names(FUNCTION, candidate)

    statuses, documents = _run_handler(_version_env(world, candidate), REQUESTS)
    emitted = _put(world, documents)

    assert statuses == [503] * REQUESTS
    watched = [
        _alarm(world, error_alarm)["Metrics"][0]["MetricStat"]["Metric"]["Dimensions"],
        _alarm(world, latency_alarm)["Dimensions"],
    ]
    for dimensions in watched:
        assert frozenset((d["Name"], d["Value"]) for d in dimensions) in emitted
        assert {d["Name"] for d in dimensions} == {
            "service",
            names.METRIC_DIMENSION_MODEL,
            names.METRIC_DIMENSION_MODEL_VERSION,
        }
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))
    assert _alarm(world, error_alarm)["StateValue"] == "ALARM"


def test_another_models_failing_version_of_the_same_name_leaves_the_canary_quiet(
    world: World,
) -> None:
    candidate = _canary_with_a_broken_candidate(world)
    error_alarm, _ = canary_alarm_names(FUNCTION, candidate)
    # Another model of the deployment whose version is also called v2, failing every request.
    other = {**_version_env(world, candidate), names.ENV_MODEL_NAME: "churn-forest"}

    statuses, documents = _run_handler(other, REQUESTS)
    _put(world, documents)

    assert statuses == [503] * REQUESTS
    assert {(d["Model"], d["ModelVersion"]) for d in documents} == {("churn-forest", "v2")}
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))
    assert _alarm(world, error_alarm)["StateValue"] != "ALARM"


def test_one_transient_error_is_not_a_gross_failure_but_the_minimum_of_failures_is(
    world: World,
) -> None:
    # Given a broken candidate at low traffic: fewer failed requests in a period than the
    # alarm's minimum (every one a 100% rate) leave it quiet; the canary verdict weighs them
    candidate = _canary_with_a_broken_candidate(world)
    error_alarm, _ = canary_alarm_names(FUNCTION, candidate)
    env = _version_env(world, candidate)
    fewest = names.DEFAULT_CANARY_ALARM_MIN_ERRORS

    statuses, documents = _run_handler(env, fewest - 1)
    _put(world, documents)
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    assert statuses == [503] * (fewest - 1)
    assert _alarm(world, error_alarm)["StateValue"] != "ALARM"

    # When one more request fails in the same period
    statuses, documents = _run_handler(env, 1)
    _put(world, documents)
    evaluate_alarms(world.cloudwatch, alarm_prefix(FUNCTION))

    # Then the guardrail trips
    assert _alarm(world, error_alarm)["StateValue"] == "ALARM"
