"""EventBridge events as AWS would deliver them, for what moto does not emit itself:
alarm state changes and Step Functions execution status changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from modelship.local.alarms import Transition


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def alarm_state_change_event(
    transition: Transition, region: str = "us-east-1", account: str = "123456789012"
) -> dict[str, Any]:
    """The EventBridge event CloudWatch sends for a state change."""
    now = _now()
    return {
        "version": "0",
        "id": "local-alarm-event",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": account,
        "time": now,
        "region": region,
        "resources": [f"arn:aws:cloudwatch:{region}:{account}:alarm:{transition.alarm_name}"],
        "detail": {
            "alarmName": transition.alarm_name,
            "state": {"value": transition.new_state, "reason": transition.reason, "timestamp": now},
            "previousState": {"value": transition.old_state, "reason": "", "timestamp": now},
        },
    }


def execution_status_change_event(
    execution: dict[str, Any], region: str = "us-east-1", account: str = "123456789012"
) -> dict[str, Any]:
    """The event for a DescribeExecution answer (e.g. after StopExecution: ABORTED)."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if isinstance(value, datetime) else None

    return {
        "version": "0",
        "id": "local-execution-event",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": _now(),
        "region": region,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution.get("name"),
            "status": execution["status"],
            "startDate": millis(execution.get("startDate")),
            "stopDate": millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }
