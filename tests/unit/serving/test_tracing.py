"""Tracing of the predict function: the X-Ray SDK stays out of the cold start and is built on
the first sampled invocation. SDK-touching runs use a fresh interpreter (the SDK's recorder
is global and picks its Lambda mode at import) whose recorder sends to a list, never to a
daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelship.serving.tracing import LazyTracer, is_sampled, tracing_enabled

SAMPLED_TRACE_ID = "1-5759e988-bd862e3fe1be46a994272793"
SAMPLED = f"Root={SAMPLED_TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1"
UNSAMPLED = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad8;Sampled=0"
REPO_ROOT = Path(__file__).resolve().parents[3]

# Runs in a fresh interpreter with Lambda's environment; prints what it saw as JSON.
PROBE = """
import json, os, sys
from modelship.serving.tracing import LazyTracer

seen = {}
tracer = LazyTracer("predict")
calls = []

@tracer.capture_lambda_handler
def lambda_handler(event, context):
    import boto3
    from botocore.stub import Stubber
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("list_buckets", {"Buckets": []})
        s3.list_buckets()
    calls.append(event)
    return {"statusCode": 200}

seen["sdk_after_init"] = "aws_xray_sdk" in sys.modules
seen["built_after_init"] = tracer.built
sent = []
for header in json.loads(sys.argv[1]):
    os.environ["_X_AMZN_TRACE_ID"] = header
    if not sent and "Sampled=1" in header:
        # Only the recorder's output is replaced: a list instead of the UDP emitter.
        from aws_xray_sdk.core import xray_recorder

        class ToList:
            def send_entity(self, entity):
                sent.append(json.loads(entity.serialize()))

            def set_daemon_address(self, address):
                pass

        xray_recorder.configure(emitter=ToList())
    lambda_handler({"n": len(calls)}, None)
    seen.setdefault("built", []).append(tracer.built)
seen["calls"] = len(calls)
seen["sent"] = sent
print(json.dumps(seen))
"""


def _run_probe(headers: list[str], tmp_path: Path) -> dict[str, Any]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "LAMBDA_"))
    }
    env.update(
        {
            "LAMBDA_TASK_ROOT": str(tmp_path),
            "AWS_LAMBDA_FUNCTION_NAME": "predict",
            # Nothing listens there; the probe's recorder sends to a list anyway.
            "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "PYTHONPATH": str(REPO_ROOT),
        }
    )
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(headers)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _subsegments(sent: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every subsegment the recorder sent, nested ones included, by name."""
    found: dict[str, dict[str, Any]] = {}

    def walk(entity: dict[str, Any]) -> None:
        found[entity["name"]] = entity
        for child in entity.get("subsegments", []):
            walk(child)

    for entity in sent:
        walk(entity)
    return found


def test_the_sdk_is_not_loaded_at_init_nor_by_unsampled_invocations(tmp_path: Path) -> None:
    seen = _run_probe([UNSAMPLED, UNSAMPLED, SAMPLED], tmp_path)

    assert seen["sdk_after_init"] is False
    assert seen["built_after_init"] is False
    assert seen["built"] == [False, False, True]
    assert seen["calls"] == 3
    handler = _subsegments(seen["sent"])["## lambda_handler"]
    # Sampled, but warm: the cold invocation was the first, unsampled one.
    assert handler["annotations"]["ColdStart"] is False
    assert {entity["trace_id"] for entity in seen["sent"]} == {SAMPLED_TRACE_ID}


def test_the_first_sampled_invocation_builds_the_sdk_and_traces_the_handler(
    tmp_path: Path,
) -> None:
    seen = _run_probe([SAMPLED, UNSAMPLED], tmp_path)

    assert seen["sdk_after_init"] is False
    assert seen["built"] == [True, True]
    subsegments = _subsegments(seen["sent"])
    handler = subsegments["## lambda_handler"]
    assert handler["trace_id"] == SAMPLED_TRACE_ID
    assert handler["annotations"] == {"ColdStart": True, "Service": "predict"}
    # botocore is patched: the S3 call inside the handler is its own subsegment.
    assert subsegments["s3"]["aws"]["operation"] == "ListBuckets"
    # The unsampled second invocation sent nothing.
    assert {entity["trace_id"] for entity in seen["sent"]} == {SAMPLED_TRACE_ID}


def test_a_disabled_tracer_never_builds_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_X_AMZN_TRACE_ID", SAMPLED)
    tracer = LazyTracer("predict", enabled=False)
    traced = tracer.capture_lambda_handler(lambda event, context: {"echo": event})

    assert traced({"a": 1}, None) == {"echo": {"a": 1}}
    assert tracer.built is False


def test_the_wrapped_handler_keeps_its_name() -> None:
    def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
        return {}

    traced = LazyTracer("predict", enabled=False).capture_lambda_handler(lambda_handler)

    assert traced.__name__ == "lambda_handler"


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({"LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, False),
        ({}, False),
    ],
)
def test_tracing_is_on_in_lambda_unless_disabled(environ: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(environ) is enabled


@pytest.mark.parametrize(
    ("header", "sampled"),
    [
        (SAMPLED, True),
        (UNSAMPLED, False),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1;Lineage=a87bd80c:1", True),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8", False),
        ("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?", False),
        ("", False),
        (None, False),
    ],
)
def test_sampled_is_read_from_the_trace_header(header: str | None, sampled: bool) -> None:
    assert is_sampled(header) is sampled
