"""Events the rollback function handles: a guardrail alarm entering ALARM, and a release
state machine execution that failed, was stopped or timed out."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from modelship.releases.releases import Outcome, Releases

ALARM_STATE_CHANGE = "CloudWatch Alarm State Change"
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
ABANDONED_STATUSES = ("FAILED", "ABORTED", "TIMED_OUT")


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore")

    value: str
    reason: str = ""


class _AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarm_name: str = Field(alias="alarmName")
    state: _State


class AlarmStateChange(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: _AlarmDetail


class _ExecutionDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    execution_arn: str = Field(alias="executionArn")
    status: str
    input: str | None = None
    cause: str | None = None
    error: str | None = None


class ExecutionStatusChange(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    detail_type: Literal["Step Functions Execution Status Change"] = Field(alias="detail-type")
    detail: _ExecutionDetail


RollbackEvent = AlarmStateChange | ExecutionStatusChange
_EVENT: TypeAdapter[RollbackEvent] = TypeAdapter(RollbackEvent)


def parse_rollback_event(event: dict[str, Any]) -> RollbackEvent:
    return _EVENT.validate_python(event)


def handle_rollback_event(releases: Releases, event: RollbackEvent) -> Outcome:
    """Clears the canary (or undoes a recent promotion) as the event calls for; anything
    else, including repeats, is answered with an unchanged Outcome."""
    if isinstance(event, AlarmStateChange):
        detail = event.detail
        if detail.state.value != "ALARM":
            return Outcome("rollback", False, None, f"{detail.alarm_name} is {detail.state.value}")
        return releases.rollback_on_alarm(detail.alarm_name, detail.state.reason)
    execution = event.detail
    if execution.status not in ABANDONED_STATUSES:
        return Outcome("rollback", False, None, f"rollout {execution.status}; nothing to undo")
    # A release rollout's input names its candidate; a retraining run's cannot (the candidate
    # is published mid-run), so the history records which execution started each canary.
    candidate = _candidate(execution.input)
    why = f"rollout {execution.status}"
    if execution.error or execution.cause:
        why += f": {execution.error or ''} {execution.cause or ''}".rstrip()
    return releases.abort_rollout(candidate, reason=why[:500], execution=execution.execution_arn)


def _candidate(raw: str | None) -> str | None:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return None
    candidate = data.get("candidate") if isinstance(data, dict) else None
    return str(candidate) if candidate is not None and str(candidate).isdigit() else None
