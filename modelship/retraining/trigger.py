"""Starts retraining executions from events: new data in S3, a schedule, a drift alarm, the CLI.

The execution name is derived from what triggered it, and Step Functions refuses a second
execution with the same name: one upload (key and ETag) starts exactly one run, however
often EventBridge delivers the event.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from modelship.retraining.datasets import SUPPORTED_SUFFIXES, dataset_prefix

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Trigger:
    source: str  # s3 | schedule | drift | cli
    execution_name: str
    dataset_key: str | None
    detail: dict[str, Any]

    def execution_input(self) -> dict[str, Any]:
        return {
            "trigger": {"source": self.source, **self.detail},
            "dataset_key": self.dataset_key,
        }


@dataclass(frozen=True)
class StartResult:
    started: bool
    execution_name: str
    execution_arn: str | None
    reason: str


def trigger_from_event(event: dict[str, Any], model_name: str) -> Trigger | None:
    """The trigger an EventBridge event stands for, or None when it is not for this model."""
    detail_type = event.get("detail-type", "")
    detail = event.get("detail") or {}
    if detail_type == "Object Created":
        key = (detail.get("object") or {}).get("key", "")
        etag = (detail.get("object") or {}).get("etag", "")
        if not key.startswith(dataset_prefix(model_name)) or not key.endswith(SUPPORTED_SUFFIXES):
            return None
        digest = hashlib.sha256(f"{key}\n{etag}".encode()).hexdigest()[:24]
        return Trigger("s3", f"s3-{digest}", key, {"key": key, "etag": etag})
    if detail_type == "Scheduled Event":
        moment = _parse_time(event.get("time"))
        return Trigger(
            "schedule", f"schedule-{moment:%Y%m%dT%H%M}", None, {"time": event.get("time")}
        )
    if detail_type == "CloudWatch Alarm State Change":
        if (detail.get("state") or {}).get("value") != "ALARM":
            return None
        alarm = str(detail.get("alarmName", "drift"))
        moment = _parse_time((detail.get("state") or {}).get("timestamp") or event.get("time"))
        safe = _NAME_UNSAFE.sub("-", alarm)[:40]
        return Trigger("drift", f"drift-{safe}-{moment:%Y%m%dT%H%M%S}", None, {"alarm": alarm})
    return None


def manual_trigger(dataset_key: str | None = None, actor: str = "cli") -> Trigger:
    name = f"manual-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    return Trigger("cli", name, dataset_key, {"actor": actor})


def start_retraining(
    sfn: Any,
    state_machine_arn: str,
    trigger: Trigger,
    execution_input: dict[str, Any] | None = None,
) -> StartResult:
    name = trigger.execution_name[:80]
    if _execution_exists(sfn, state_machine_arn, name):
        return StartResult(False, name, None, "duplicate event: already started")
    try:
        # Step Functions also answers a racing duplicate (same name and input) with the
        # execution already running, or ExecutionAlreadyExists once it has ended.
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=json.dumps(execution_input or trigger.execution_input()),
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return StartResult(False, name, None, "duplicate event: already started")
        raise
    return StartResult(True, name, response["executionArn"], "started")


def _execution_exists(sfn: Any, state_machine_arn: str, name: str) -> bool:
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name
    try:
        sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return False
        raise
    return True


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
    return datetime.now(UTC)


def start_for_event(
    sfn: Any, state_machine_arn: str, model_name: str, event: dict[str, Any]
) -> dict[str, Any]:
    """Handles one EventBridge event: starts a run, or says why not."""
    trigger = trigger_from_event(event, model_name)
    if trigger is None:
        return {"started": False, "reason": "event is not a retraining trigger for " + model_name}
    result = start_retraining(sfn, state_machine_arn, trigger)
    return {
        "started": result.started,
        "reason": result.reason,
        "source": trigger.source,
        "execution_name": result.execution_name,
        "execution_arn": result.execution_arn,
    }
