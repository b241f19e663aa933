"""Shadow releases in moto: the stable version's real handler mirrors its answered requests to
the shadow version named by shadows/<model>/active.json with an asynchronous Invoke, the
shadow's real handler compares, and its Shadow* metrics land under its own ModelVersion only;
every answer users get is the stable's."""

from __future__ import annotations

import inspect
import io
import json
import threading
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import boto3

from modelship import names
from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.local.metrics import emf_metric_data
from modelship.sample_events import load_event
from modelship.serving.shadow_mirror import ShadowMirror
from modelship.serving.shadow_state import ShadowState, read_shadow_state
from tests.conftest import BUCKET
from tests.integration.release_world import FUNCTION, MODEL, World, released, stable_on


def _start_shadow(world: World, lambda_version: str, sample_rate: float) -> None:
    state = ShadowState(
        model=MODEL,
        lambda_version=lambda_version,
        model_version="v2",
        sample_rate=sample_rate,
        started_at=datetime.now(UTC),
        started_by="arn:aws:iam::123456789012:user/test",
    )
    world.s3.put_object(Bucket=BUCKET, Key=names.shadow_state_key(MODEL), Body=state.body())


def _live(world: World, event: dict[str, Any]) -> dict[str, Any]:
    answer = world.lambda_.invoke(
        FunctionName=FUNCTION, Qualifier="live", Payload=json.dumps(event).encode()
    )
    response: dict[str, Any] = json.loads(answer["Payload"].read())
    return response


def _handler_globals(world: World, lambda_version: str) -> dict[str, Any]:
    """The module globals of the warm handler of `lambda_version` (the in-process runner's)."""
    found = [
        inspect.unwrap(handler).__globals__
        for (_, version, _), handler in world.runner._handlers.items()
        if version == lambda_version
    ]
    assert len(found) == 1, list(world.runner._handlers)
    return found[0]


class _AfterTheAnswer:
    """A Lambda client whose mirrors wait until the test lets them go. On Lambda the shadow
    runs in another process; here its handler would share Powertools' metric state with the
    stable handler still answering."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.allowed = threading.Semaphore(0)

    def invoke(self, **kwargs: Any) -> Any:
        assert self.allowed.acquire(timeout=30)
        return self.client.invoke(**kwargs)


def test_a_shadow_gets_mirrors_while_every_answer_comes_from_stable(world: World) -> None:
    # Given v1 serving live and a release of v2 as the shadow, mirroring every request
    stable = stable_on(world, "v1")
    (shadow,) = released(world, "v2")
    _start_shadow(world, shadow, sample_rate=1.0)
    event = load_event("predict_valid")
    answers = [_live(world, event)]  # the cold start
    gate = _AfterTheAnswer(boto3.client("lambda", region_name="us-east-1"))
    mirror = ShadowMirror(
        lambda: gate,
        lambda: read_shadow_state(world.s3, BUCKET, MODEL),
        function_name=FUNCTION,
        function_version=stable,
        model_name=MODEL,
        max_body_bytes=names.DEFAULT_MAX_BODY_BYTES,
    )
    _handler_globals(world, stable)["shadow"] = mirror
    answers.append(_live(world, event))  # asks for the shadow state
    mirror.flush(30)
    assert mirror.state is not None
    assert mirror.state.lambda_version == shadow

    # When requests arrive
    for _ in range(5):
        answers.append(_live(world, event))
        gate.allowed.release()
        mirror.flush(30)

    # Then users got the stable's answers, and the shadow version compared each one
    assert {a["statusCode"] for a in answers} == {200}
    assert {a["headers"]["X-Model-Version"] for a in answers} == {"v1"}
    mirrored = [i for i in world.runner.invocations if i.version == shadow]
    assert len(mirrored) == 5
    assert all(names.SHADOW_EVENT_KEY in i.event for i in mirrored)
    assert {i.event[names.SHADOW_EVENT_KEY]["served_model_version"] for i in mirrored} == {"v1"}
    assert [i.error for i in mirrored] == [None] * 5
    for invocation in mirrored:
        assert invocation.result["shadow"] == "compared"
        assert invocation.result["model_version"] == "v2"
        # The same model under another version name: every row agrees.
        assert invocation.result["rows"] == invocation.result["agreeing_rows"] == 1
    # Each request reported the mirrors sent before it (ShadowMirrored); the last is left.
    assert mirror.take_counts() == (1, 0)


def test_without_a_shadow_state_nothing_is_mirrored(world: World) -> None:
    stable = stable_on(world, "v1")
    released(world, "v2")
    event = load_event("predict_valid")

    _live(world, event)
    mirror: ShadowMirror = _handler_globals(world, stable)["shadow"]
    mirror.flush(30)
    _live(world, event)
    mirror.flush(30)

    assert mirror.state is None
    assert [i.version for i in world.runner.invocations] == [stable, stable]


def _shadow_handler_metrics(world: World, shadow: str) -> tuple[dict[str, Any], list[dict]]:
    config = world.lambda_.get_function_configuration(FunctionName=FUNCTION, Qualifier=shadow)
    env = {
        **config["Environment"]["Variables"],
        "POWERTOOLS_TRACE_DISABLED": "true",
        names.ENV_LAMBDA_FUNCTION_NAME: FUNCTION,
        names.ENV_LAMBDA_FUNCTION_VERSION: shadow,
    }
    out = io.StringIO()
    with patched_environ(env), redirect_stdout(out):
        _, handler = load_handler(names.PREDICT_HANDLER)
        summary = handler(load_event("shadow_mirror"), FakeLambdaContext())
    documents = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    return summary, documents


def _sum(world: World, metric: str, dimensions: dict[str, str]) -> float:
    answer = world.cloudwatch.get_metric_statistics(
        Namespace=names.METRICS_NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        StartTime=datetime(2000, 1, 1, tzinfo=UTC),
        EndTime=datetime(2100, 1, 1, tzinfo=UTC),
        Period=86400 * 365 * 10,
        Statistics=["Sum"],
    )
    return float(sum(p["Sum"] for p in answer["Datapoints"]))


def test_the_shadows_metrics_reach_cloudwatch_under_its_own_model_version_only(
    world: World,
) -> None:
    stable_on(world, "v1")
    (shadow,) = released(world, "v2")

    summary, documents = _shadow_handler_metrics(world, shadow)
    for document in documents:
        for namespace, datum in emf_metric_data(document):
            world.cloudwatch.put_metric_data(Namespace=namespace, MetricData=[datum])

    assert summary["shadow"] == "compared"
    versioned = {"service": "predict", "Model": MODEL, "ModelVersion": "v2"}
    assert _sum(world, names.METRIC_SHADOW_REQUESTS, versioned) == 1.0
    assert _sum(world, names.METRIC_SHADOW_ERRORS, versioned) == 0.0
    assert _sum(world, names.METRIC_SHADOW_ROWS, versioned) == 1.0
    assert _sum(world, names.METRIC_SHADOW_LATENCY, versioned) > 0.0
    # Nothing the live alarms read: no request of the model's, and no shadow datum under the
    # model-wide set (listed, not summed: moto's statistics match any superset of dimensions).
    listed = world.cloudwatch.list_metrics(Namespace=names.METRICS_NAMESPACE)["Metrics"]
    shadow_sets = [
        {d["Name"]: d["Value"] for d in m["Dimensions"]}
        for m in listed
        if m["MetricName"].startswith("Shadow")
    ]
    assert shadow_sets
    assert all(dimensions == versioned for dimensions in shadow_sets), shadow_sets
    assert not [m for m in listed if m["MetricName"] == names.METRIC_REQUESTS]
