"""The fault matrix (docs/operations.md, "Fault matrix"): one test per fault, each stating what
the caller sees, what is left in S3 and what is left on the `live` alias, and that nothing is
lost. tests/unit/test_fault_matrix_doc.py keeps this module and the table in step.

Everything runs against moto (the release world of tests/integration/release_world.py: the
predict, release and rollback functions run their real handlers in-process, the release state
machine is the synthesized one). The two faults of the request path that need processes (a
worker that dies mid-request, a stage that throttles) use the emulator's own gateway and
Lambda executor, started here around a small handler, not the whole emulator.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import joblib
import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError, IncompleteReadError
from botocore.response import StreamingBody

from modelship import names
from modelship.digest import file_digest
from modelship.errors import IncompatibleRelease, ReleaseConflict, VersionConflict
from modelship.local.async_invoke import AsyncInvokeConfig, invoke_async, send_to_sqs
from modelship.local.events import execution_status_change_event
from modelship.local.executor import LambdaExecutor
from modelship.local.gateway import Gateway, integration_function, stage_throttle
from modelship.local.metrics import MetricsPublisher
from modelship.local.template import resources_of_type
from modelship.registry.registry import Registry, artifact_key, manifest_key
from modelship.releases.lambda_alias import FunctionAlias
from modelship.sample_events import load_event
from tests.conftest import BUCKET
from tests.integration.iam_world import world_names
from tests.integration.release_template import deploy_release_resources, release_template
from tests.integration.release_world import (
    ALIAS,
    FUNCTION,
    MODEL,
    World,
    released,
    retitle,
    stable_on,
)

ROLLBACK = "modelship-rollback"
# The rollout that started the canary of the sample rollout events (events/rollout_*.json).
ROLLOUT = load_event("rollout_aborted")["detail"]["executionArn"]

# ---- what the caller sees, what is left in S3 and on the alias


def predict(world: World, qualifier: str = ALIAS, event: str = "predict_valid") -> Any:
    """(status, JSON body, headers) of one request through the predict function."""
    response = world.lambda_.invoke(
        FunctionName=FUNCTION, Qualifier=qualifier, Payload=json.dumps(load_event(event))
    )
    answer = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, answer
    return answer["statusCode"], json.loads(answer["body"]), answer.get("headers") or {}


def s3_state(world: World) -> dict[str, list[str]]:
    """Every key of the model bucket with its object versions, newest first."""
    state: dict[str, list[str]] = {}
    pages = world.s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET)
    for page in pages:
        for version in page.get("Versions", []):
            state.setdefault(version["Key"], []).append(version["VersionId"])
    return state


def routing(world: World) -> tuple[str, dict[str, float]]:
    """(the stable version, the candidate weights) of `live`."""
    return world.alias()["FunctionVersion"], world.weights()


def cached_files(world: World) -> list[Path]:
    """Every file in the predict function's /tmp model cache."""
    cache = world.work / "cache"
    return sorted(p for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


def history_actions(world: World) -> list[str]:
    return [record.action for record in world.history()]


@contextmanager
def outage(service: str, operation: str, code: str, status: int) -> Iterator[list[str]]:
    """Every `service` `operation` call, from any client in this process (the handlers'
    included), fails with `code` as if the SDK's own retries had run out. Yields the calls
    refused so far."""
    original = BaseClient._make_api_call
    refused: list[str] = []

    def call(client: Any, name: str, params: Any) -> Any:
        if client.meta.service_model.service_name == service and name == operation:
            refused.append(name)
            error = {"Code": code, "Message": f"{code} (fault injected)"}
            raise ClientError(
                {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, name
            )
        return original(client, name, params)

    with mock.patch.object(BaseClient, "_make_api_call", call):
        yield refused


def not_yet_started(world: World, version: str) -> None:
    """The Lambda version has served nothing: its next invocation is a cold start."""
    assert not [
        i for i in world.runner.invocations if (i.function_name, i.version) == (FUNCTION, version)
    ]


# ---- model loading at cold start


def test_s3_unavailable_at_cold_start(world: World) -> None:
    # Given a release on live that has not started yet
    version = stable_on(world, "v1")
    not_yet_started(world, version)
    s3_before, alias_before = s3_state(world), routing(world)

    # When it cold-starts while S3 refuses every read
    with outage("s3", "GetObject", "ServiceUnavailable", 503) as refused:
        status, body, headers = predict(world)

    # Then the caller gets a 503 naming the reason (no stack trace), nothing was cached, and
    # S3 and the alias are as they were
    assert refused
    assert status == 503
    assert body["error"]["code"] == "storage_error"
    assert headers["X-Model-Version"] == "v1"
    assert cached_files(world) == []
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)
    # And nothing is lost: the same execution environment loads the model on the next request
    status, body, _ = predict(world)
    assert (status, body["model_version"]) == (200, "v1")


def test_sha256_mismatch(world: World) -> None:
    # Given a release whose artifact was overwritten in S3 by bytes of the same size
    version = stable_on(world, "v1")
    not_yet_started(world, version)
    key = artifact_key(MODEL, "v1")
    good = world.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=bytes([good[0] ^ 0xFF]) + good[1:])
    alias_before = routing(world)

    # When it cold-starts
    status, body, _ = predict(world)

    # Then the caller gets 503 sha256_mismatch, the bytes were never loaded nor cached
    assert status == 503
    assert body["error"]["code"] == "sha256_mismatch"
    assert cached_files(world) == []
    assert routing(world) == alias_before
    # And nothing is lost: the bucket's versioning kept the published bytes under the key
    older = s3_state(world)[key][1]
    kept = world.s3.get_object(Bucket=BUCKET, Key=key, VersionId=older)["Body"].read()
    assert kept == good


def test_truncated_download(world: World) -> None:
    # Given a release that has not started yet
    version = stable_on(world, "v1")
    not_yet_started(world, version)
    s3_before, alias_before = s3_state(world), routing(world)
    original = StreamingBody.iter_chunks

    def cut_off(body: StreamingBody, chunk_size: int = 1024) -> Iterator[bytes]:
        for chunk in original(body, chunk_size):
            yield chunk[: len(chunk) // 2]
            raise IncompleteReadError(actual_bytes=len(chunk) // 2, expected_bytes=len(chunk))

    # When the connection breaks off in the middle of the artifact's download
    with mock.patch.object(StreamingBody, "iter_chunks", cut_off):
        status, body, _ = predict(world)

    # Then the caller gets 503 truncated_artifact and no partial file is left in /tmp
    assert status == 503
    assert body["error"]["code"] == "truncated_artifact"
    assert cached_files(world) == []
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)
    # And the next request downloads it whole
    assert predict(world)[0] == 200
    assert [p.name for p in cached_files(world)] == ["manifest.json", "model.joblib"]


def test_tmp_full(world: World) -> None:
    # Given a release that has not started yet
    version = stable_on(world, "v1")
    not_yet_started(world, version)
    s3_before, alias_before = s3_state(world), routing(world)
    real = tempfile.NamedTemporaryFile

    def full_disk(*args: Any, **kwargs: Any) -> Any:
        handle = real(*args, **kwargs)
        if kwargs.get("prefix") == ".download-":

            def write(data: bytes) -> int:
                handle.file.write(data[: len(data) // 2])  # what fitted, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")

            handle.write = write
        return handle

    # When /tmp fills up while the artifact is being written
    with mock.patch.object(tempfile, "NamedTemporaryFile", full_disk):
        status, body, _ = predict(world)

    # Then the caller gets 503 tmp_full, the function stays up, and not one partial file is
    # left in /tmp to fill it further or to be trusted later
    assert status == 503
    assert body["error"]["code"] == "tmp_full"
    assert cached_files(world) == []
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)
    # And once there is room the next request loads the model
    assert predict(world)[0] == 200


def test_scikit_learn_version_mismatch(world: World) -> None:
    # Given a model version trained with another scikit-learn than the function's layer
    stable_on(world, "v1")
    manifest = world.publish_model("old-sklearn", sklearn="1.0.2")
    versions_before = world.lambda_.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    s3_before, alias_before = s3_state(world), routing(world)

    # When an operator releases it
    with pytest.raises(IncompatibleRelease) as caught:
        world.releases().create("old-sklearn")

    # Then it is refused naming both versions, before any Lambda version is published
    assert caught.value.reason == "incompatible_sklearn"
    assert "1.0.2" in str(caught.value)
    after = world.lambda_.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    assert len(after) == len(versions_before)
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)
    # And a version pinned to it by hand never unpickles it: 503 incompatible_sklearn
    alias = FunctionAlias(world.lambda_, FUNCTION, ALIAS)
    pinned = alias.publish_model(alias.configuration(), manifest)
    status, body, _ = predict(world, qualifier=pinned.version)
    assert (status, body["error"]["code"]) == (503, "incompatible_sklearn")
    assert routing(world) == alias_before


def test_schema_mismatch_of_a_candidate(world: World) -> None:
    # Given live serving v1 and a new model version that drops a feature callers send
    stable_on(world, "v1")
    features = [f.model_dump() for f in world.manifests["v1"].features][:-1]
    world.publish_model("narrow", features=features)
    versions_before = world.lambda_.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    s3_before, alias_before = s3_state(world), routing(world)

    # When an operator releases it without allowing a schema change
    with pytest.raises(IncompatibleRelease) as caught:
        world.releases().create("narrow")

    # Then it is refused (schema_changed) and nothing is published, moved or written
    assert caught.value.reason == "schema_changed"
    after = world.lambda_.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
    assert len(after) == len(versions_before)
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)


def test_schema_mismatch_of_a_request(world: World) -> None:
    # Given live serving v1
    stable_on(world, "v1")
    s3_before, alias_before = s3_state(world), routing(world)

    # When a caller sends two rows, the second without tenure_months
    status, body, _ = predict(world, event="predict_missing_feature")

    # Then it is a 422 naming the row and the field; the model sees neither row
    assert status == 422
    (problem,) = body["error"]["details"]
    assert (problem["row"], problem["field"]) == (1, "tenure_months")
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)


# ---- publishing and releasing


def test_concurrent_publish_of_one_version(world: World) -> None:
    # Given two publishers of churn/v9 with different artifacts, the first one past its
    # existence check when the second completes
    first = retitle(world.model_dir, world.work / "first", "v9")
    second = retitle(world.model_dir, world.work / "second", "v9")
    joblib.dump(joblib.load(second / "model.joblib"), second / "model.joblib", compress=3)
    manifest = json.loads((second / "manifest.json").read_text())
    sha256, size = file_digest(second / "model.joblib")
    manifest["artifact"].update(sha256=sha256, size_bytes=size)
    (second / "manifest.json").write_text(json.dumps(manifest))
    alias_before = routing(world)
    racing = Registry(world.s3, BUCKET)

    def checked_then_overtaken(key: str) -> bool:
        Registry(world.s3, BUCKET).publish(second)
        return False  # what the first publisher read before the second one wrote

    # When the first publisher goes on to write
    with (
        mock.patch.object(racing, "_exists", checked_then_overtaken),
        pytest.raises(VersionConflict, match="already published"),
    ):
        racing.publish(first)

    # Then S3's conditional put refused it: v9 is the second publisher's, written once
    state = s3_state(world)
    assert len(state[manifest_key(MODEL, "v9")]) == 1
    assert len(state[artifact_key(MODEL, "v9")]) == 1
    head = world.s3.head_object(Bucket=BUCKET, Key=artifact_key(MODEL, "v9"))
    assert head["Metadata"]["sha256"] == sha256
    assert Registry(world.s3, BUCKET).show(MODEL, "v9").artifact.sha256 == sha256
    assert routing(world) == alias_before


def test_concurrent_alias_change(world: World) -> None:
    # Given an operator who read live, and a second operator who starts a canary meanwhile
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    slow = world.releases()
    read = slow.alias_state()
    world.releases().start_canary(0.05, candidate, reason="the faster operator")
    actions_before = history_actions(world)

    # When the first operator writes what they decided on the alias they read
    with pytest.raises(ReleaseConflict, match="changed by someone else"):
        slow.alias.route(read, read.stable, {candidate: 0.5})

    # Then Lambda refused the stale RevisionId: the alias and the history are the faster
    # operator's, and the slower one is told to look again
    assert routing(world) == (stable, {candidate: 0.05})
    assert history_actions(world) == actions_before
    assert history_actions(world)[-1] == "canary_start"


# ---- rollback events and rollouts


@pytest.fixture
def canary(world: World) -> tuple[str, str]:
    """Stable release 2 (model v1), a canary of release 3 (model v2) at 5% started by the
    sample events' rollout, and the rollback function as deployed."""
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate, execution=ROLLOUT)
    world.create_function(ROLLBACK, names.ROLLBACK_HANDLER, world.release_env())
    assert (stable, candidate) == ("2", "3")  # the versions the sample events name
    return stable, candidate


def rollback_function(world: World, event: dict[str, Any]) -> tuple[bool, Any, str]:
    """One invocation of the rollback function: (failed, its answer, executed version)."""
    response = world.lambda_.invoke(FunctionName=ROLLBACK, Payload=json.dumps(event))
    answer = json.loads(response["Payload"].read())
    return "FunctionError" in response, answer, str(response.get("ExecutedVersion", "$LATEST"))


def test_alarm_event_after_a_promotion(world: World, canary: tuple[str, str]) -> None:
    # Given the canary was promoted before its alarm's ALARM event was delivered
    _, candidate = canary
    world.releases().promote(candidate=candidate, reason="looked fine")
    s3_before, alias_before = s3_state(world), routing(world)

    # When the late event of the candidate's own alarm arrives
    failed, answer, _ = rollback_function(world, load_event("alarm_canary_errors"))

    # Then it is answered (no error, no retry) and ignored: the promotion stands
    assert not failed
    assert answer["changed"] is False
    assert alias_before == (candidate, {})
    assert (s3_state(world), routing(world)) == (s3_before, alias_before)


def test_repeated_alarm_event(world: World, canary: tuple[str, str]) -> None:
    # Given a canary whose alarm fired
    stable, _ = canary
    event = load_event("alarm_canary_errors")

    # When EventBridge delivers the event twice (delivery is at least once)
    first = rollback_function(world, event)
    s3_after_first = s3_state(world)
    second = rollback_function(world, event)

    # Then the first clears the canary and the second finds nothing to do: one rollback record
    assert (first[0], first[1]["changed"]) == (False, True)
    assert (second[0], second[1]["changed"]) == (False, False)
    assert routing(world) == (stable, {})
    assert history_actions(world).count("rollback") == 1
    assert s3_state(world) == s3_after_first


def run_until_done(world: World, execution: str, seconds: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        described: dict[str, Any] = world.sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    pytest.fail(f"{execution} did not finish in {seconds} s")


def test_stopped_rollout(world: World) -> None:
    # Given a rollout baking its first step
    machine = deploy_release_resources(world)
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    steps = [{"weight": 0.05, "bake_seconds": 30}, {"weight": 0.5, "bake_seconds": 0}]
    execution = world.sfn.start_execution(
        stateMachineArn=machine, input=json.dumps({"candidate": candidate, "steps": steps})
    )["executionArn"]
    deadline = time.monotonic() + 30
    while routing(world) != (stable, {candidate: 0.05}):
        assert time.monotonic() < deadline, "the first step never applied"
        time.sleep(0.05)

    # When an operator stops it: no Catch runs, so the canary is still routed...
    world.sfn.stop_execution(executionArn=execution, cause="operator stopped it")
    stopped = run_until_done(world, execution, 30)
    assert routing(world) == (stable, {candidate: 0.05})
    # (AWS reports ABORTED; moto says FAILED) ...until EventBridge delivers ABORTED
    stopped = {**stopped, "status": "ABORTED", "error": None, "cause": "operator stopped it"}
    failed, answer, _ = rollback_function(world, execution_status_change_event(stopped))

    # Then the rollback function takes the candidate's traffic away, recording the execution
    assert (failed, answer["changed"]) == (False, True)
    assert routing(world) == (stable, {})
    last = world.history()[-1]
    assert (last.action, last.execution) == ("rollback", execution)
    # And S3 holds the whole story: the canary the rollout started, then its rollback
    assert history_actions(world)[-2:] == ["canary_start", "rollback"]


def _rollback_failure_config() -> tuple[AsyncInvokeConfig, str]:
    """The rollback function's EventInvokeConfig as the template sets it, with its queue's
    ARN as the moto world names it; also checks the two EventBridge rules' targets send what
    they cannot deliver to the same queue."""
    template = release_template()
    functions = resources_of_type(template, "AWS::Lambda::Function")
    (rollback,) = [
        logical
        for logical, resource in functions.items()
        if resource["Properties"]["Handler"] == names.ROLLBACK_HANDLER
    ]
    (config,) = [
        resource["Properties"]
        for resource in resources_of_type(template, "AWS::Lambda::EventInvokeConfig").values()
        if resource["Properties"]["FunctionName"] == {"Ref": rollback}
    ]
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    queue = destination["Fn::GetAtt"][0]
    targets = [
        target
        for rule in resources_of_type(template, "AWS::Events::Rule").values()
        for target in rule["Properties"].get("Targets", [])
        if target["Arn"] == {"Fn::GetAtt": [rollback, "Arn"]}
    ]
    assert len(targets) == 2  # the guardrail alarms and the abandoned rollouts
    for target in targets:
        assert target["DeadLetterConfig"]["Arn"] == destination
        assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    arn = world_names()[1][f"{queue}.Arn"]
    properties = {**config, "DestinationConfig": {"OnFailure": {"Destination": arn}}}
    return AsyncInvokeConfig.from_properties(properties), arn


def test_rollback_function_failing(world: World, canary: tuple[str, str]) -> None:
    # Given a canary whose alarm fired, and its failure queue as the template configures it
    stable, candidate = canary
    config, queue_arn = _rollback_failure_config()
    assert (config.maximum_retry_attempts, config.on_failure) == (2, queue_arn)
    queue = world.sqs.create_queue(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]
    event = load_event("alarm_canary_errors")
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{ROLLBACK}"
    actions_before = history_actions(world)

    # When every attempt fails because Lambda's API throttles the alias reads
    with outage("lambda", "GetAlias", "TooManyRequestsException", 429):
        done = invoke_async(
            lambda: rollback_function(world, event),
            event,
            arn,
            config,
            send_to_sqs("123456789012", "us-east-1"),
        )

    # Then Lambda tried three times and the event waits in the dead-letter queue, whole;
    # the canary still serves its 5% and no rollback was recorded
    assert (done.attempts, done.failed) == (3, True)
    assert done.answer["errorType"] == "ClientError"
    assert routing(world) == (stable, {candidate: 0.05})
    assert history_actions(world) == actions_before
    messages = world.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    (record,) = [json.loads(m["Body"]) for m in messages]
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    # And nothing is lost: redriving the event once Lambda answers again clears the canary
    failed, answer, _ = rollback_function(world, record["requestPayload"])
    assert (failed, answer["changed"]) == (False, True)
    assert routing(world) == (stable, {})
    assert history_actions(world)[len(actions_before) :] == ["rollback"]


def test_a_state_machine_task_timing_out(world: World) -> None:
    # Given the release state machine as synthesized, but with its Judge task's timeout cut
    # to one second (the template gives each task more than its function's own timeout)
    machine = deploy_release_resources(world)
    definition = json.loads(world.sfn.describe_state_machine(stateMachineArn=machine)["definition"])
    processor = definition["States"]["CanarySteps"]
    inner = (processor.get("ItemProcessor") or processor["Iterator"])["States"]
    assert inner["Judge"]["TimeoutSeconds"] > 60
    inner["Judge"]["TimeoutSeconds"] = 1
    short = world.sfn.create_state_machine(
        name="modelship-release-short-judge",
        definition=json.dumps(definition),
        roleArn=world.state_machine_role("ReleaseMachine"),
    )["stateMachineArn"]
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    answer_judge = threading.Event()

    def hanging_judge(name: str, version: str, event: dict[str, Any]) -> None:
        if event.get("action") == "judge":
            answer_judge.wait(30)

    world.runner.before_invoke = hanging_judge
    steps = [{"weight": 0.05, "bake_seconds": 0}, {"weight": 0.5, "bake_seconds": 0}]

    # When the Judge task does not answer within its timeout
    execution = world.sfn.start_execution(
        stateMachineArn=short, input=json.dumps({"candidate": candidate, "steps": steps})
    )["executionArn"]
    result = run_until_done(world, execution)
    answer_judge.set()

    # Then States.Timeout is caught like any task error: the canary is rolled back and the
    # execution fails naming the timeout
    assert result["status"] == "FAILED"
    assert result.get("error") == "RolloutFailed"
    assert "States.Timeout" in result.get("cause", "")
    assert routing(world) == (stable, {})
    rollback = world.history()[-1]
    assert (rollback.action, rollback.execution) == ("rollback", execution)
    # And the late answer of the abandoned Judge moves nothing
    rolled_back_at = len(world.history())
    deadline = time.monotonic() + 30
    while not [
        i
        for i in world.runner.invocations
        if i.event.get("action") == "judge" and (i.result is not None or i.error is not None)
    ]:
        assert time.monotonic() < deadline, "the abandoned Judge never answered"
        time.sleep(0.05)
    assert routing(world) == (stable, {})
    assert set(history_actions(world)[rolled_back_at:]) <= {"verdict"}


# ---- the request path: the emulator's gateway and workers

CRASHY = "modelship-crashy"
CRASHY_HANDLER = """
import json
import os


def handler(event, context):
    if event["rawPath"] == "/crash":
        os._exit(137)  # the runtime dies while handling the request
    return {"statusCode": 200, "body": json.dumps({"pid": os.getpid()})}
"""


class Api:
    """A function behind the emulator's gateway and executor (its workers), its `live` alias
    on version 1, Lambda's metrics published to the world's CloudWatch."""

    def __init__(self, world: World, work: Path, clock: Callable[[], float]) -> None:
        from moto.awslambda.utils import get_backend

        code = work / "code"
        code.mkdir(parents=True)
        (code / "crashy.py").write_text(CRASHY_HANDLER)
        world.lambda_.create_function(
            FunctionName=CRASHY,
            Runtime="python3.12",
            Role=world.role_arn,
            Handler="crashy.handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
            Timeout=30,
        )
        version = world.lambda_.publish_version(FunctionName=CRASHY)["Version"]
        alias = world.lambda_.create_alias(
            FunctionName=CRASHY, Name=ALIAS, FunctionVersion=version
        )["AliasArn"]
        self.world, self.version = world, version
        self.executor = LambdaExecutor(
            work_dir=work / "executor",
            base_env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"},
            code_roots={CRASHY: code},
            on_result=MetricsPublisher(world.cloudwatch).publish,
        )
        backend = get_backend("123456789012", "us-east-1")

        def invoke(target: str, event: dict[str, Any]) -> Any:
            return self.executor.invoke_moto(backend, *integration_function(target), event)

        stage = next(
            iter(resources_of_type(release_template(), "AWS::ApiGatewayV2::Stage").values())
        )
        self.throttle = stage_throttle(stage["Properties"]["DefaultRouteSettings"], clock)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        routes = {"POST /predict": alias, "POST /crash": alias}
        self.gateway = Gateway(invoke, routes, "127.0.0.1", port, throttle=self.throttle)
        self.gateway.start()

    def post(self, path: str) -> tuple[int, Any]:
        host, port = self.gateway.server.server_address[:2]
        connection = http.client.HTTPConnection(str(host), int(port), timeout=60)
        try:
            connection.request(
                "POST", path, body=b"{}", headers={"content-type": "application/json"}
            )
            response = connection.getresponse()
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def lambda_metric(self, name: str) -> float:
        """Sum of the AWS/Lambda metric for the alias's executed version."""
        dimensions = [
            {"Name": "FunctionName", "Value": CRASHY},
            {"Name": "Resource", "Value": f"{CRASHY}:{ALIAS}"},
            {"Name": "ExecutedVersion", "Value": self.version},
        ]
        now = datetime.now(UTC)
        points = self.world.cloudwatch.get_metric_statistics(
            Namespace="AWS/Lambda",
            MetricName=name,
            Dimensions=dimensions,
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    def routing(self) -> tuple[str, dict[str, float]]:
        alias = self.world.lambda_.get_alias(FunctionName=CRASHY, Name=ALIAS)
        return alias["FunctionVersion"], (alias.get("RoutingConfig") or {}).get(
            "AdditionalVersionWeights", {}
        )

    def stop(self) -> None:
        self.gateway.stop()
        self.executor.stop()


class FrozenClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(world: World, tmp_path: Path) -> Iterator[tuple[Api, FrozenClock]]:
    clock = FrozenClock()
    served = Api(world, tmp_path / "api", clock)
    try:
        yield served, clock
    finally:
        served.stop()


def test_worker_crash_mid_request(world: World, api: tuple[Api, FrozenClock]) -> None:
    # Given a warm worker that has answered one request
    served, _ = api
    status, first = served.post("/predict")
    assert status == 200
    s3_before, alias_before = s3_state(world), served.routing()

    # When its process exits while handling the next request
    status, body = served.post("/crash")

    # Then API Gateway answers 502 with its generic body and Lambda counts one error for
    # the version; the alias and S3 are untouched (only an alarm moves the alias)
    assert (status, body) == (502, {"message": "Internal Server Error"})
    assert served.lambda_metric("Errors") == 1
    assert (s3_state(world), served.routing()) == (s3_before, alias_before)
    # And the next request gets a fresh worker
    status, after = served.post("/predict")
    assert status == 200
    assert after["pid"] != first["pid"]
    assert served.lambda_metric("Invocations") == 3


def test_throttling(world: World, api: tuple[Api, FrozenClock]) -> None:
    # Given the stage's throttling as the template sets it (a token bucket), time standing still
    served, clock = api
    assert served.throttle is not None
    burst, rate = served.throttle.burst, served.throttle.rate
    s3_before, alias_before = s3_state(world), served.routing()

    # When a burst of requests arrives, one more than the bucket holds
    statuses = [served.post("/predict")[0] for _ in range(burst)]
    status, body = served.post("/predict")

    # Then the bucket's worth is served and the next is a 429 that never reaches Lambda
    assert statuses == [200] * burst
    assert (status, body) == (429, {"message": "Too Many Requests"})
    assert served.lambda_metric("Invocations") == burst
    assert (s3_state(world), served.routing()) == (s3_before, alias_before)
    # And the bucket refills at the steady rate: a tenth of a second later, rate/10 more pass
    clock.now += 0.1
    refilled = [served.post("/predict")[0] for _ in range(int(rate / 10) + 1)]
    assert refilled == [200] * int(rate / 10) + [429]
