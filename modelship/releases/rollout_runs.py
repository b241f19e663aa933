"""Executions that move the alias: release rollouts and retraining runs (which canary their
challenger), running or recently ended badly, with the cause, for `modelship status`."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Kind = Literal["release", "retraining"]
ABANDONED = ("FAILED", "TIMED_OUT", "ABORTED")
RECENT = timedelta(hours=24)
# Enough to see what went wrong lately without a describe call per historic execution.
MAX_ENDED_PER_MACHINE = 5


@dataclass(frozen=True)
class RolloutRun:
    execution: str
    kind: Kind
    status: str
    started: datetime | None
    stopped: datetime | None
    cause: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "execution": self.execution,
            "kind": self.kind,
            "status": self.status,
            "started": self.started.isoformat() if self.started else None,
            "stopped": self.stopped.isoformat() if self.stopped else None,
            "cause": self.cause,
        }

    def summary(self) -> str:
        name = self.execution.rsplit(":", 1)[-1]
        moment = self.stopped or self.started
        when = f"{moment:%Y-%m-%dT%H:%M:%SZ}" if moment else "-"
        text = f"{self.status:<9} {self.kind:<10} {name}  {when}"
        return f"{text}  {self.cause}" if self.cause else text


def rollout_runs(
    sfn: Any,
    machines: dict[Kind, str],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    recent: timedelta = RECENT,
) -> list[RolloutRun]:
    """Running executions, then those that failed, timed out or were stopped within
    `recent`, newest first, for each machine given."""
    runs: list[RolloutRun] = []
    since = clock() - recent
    for kind, arn in machines.items():
        for execution in _executions(sfn, arn, "RUNNING"):
            runs.append(_run(execution, kind, ""))
        ended = [
            execution
            for status in ABANDONED
            for execution in _executions(sfn, arn, status)
            if (execution.get("stopDate") or since) >= since
        ]
        ended.sort(key=lambda e: e.get("stopDate") or since, reverse=True)
        for execution in ended[:MAX_ENDED_PER_MACHINE]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            runs.append(_run(execution, kind, _cause(described)))
    return runs


def _executions(sfn: Any, machine: str, status: str) -> list[dict[str, Any]]:
    page = sfn.list_executions(stateMachineArn=machine, statusFilter=status, maxResults=50)
    return list(page.get("executions", []))


def _run(execution: dict[str, Any], kind: Kind, cause: str) -> RolloutRun:
    return RolloutRun(
        execution=str(execution["executionArn"]),
        kind=kind,
        status=str(execution["status"]),
        started=execution.get("startDate"),
        stopped=execution.get("stopDate"),
        cause=cause,
    )


def _cause(described: dict[str, Any]) -> str:
    """error: cause, with a Lambda error's JSON cause reduced to its message."""
    error = str(described.get("error") or "")
    cause = str(described.get("cause") or "")
    try:
        parsed = json.loads(cause)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        cause = f"{parsed.get('errorType', 'Error')}: {parsed['errorMessage']}"
    text = f"{error}: {cause}" if error and cause else error or cause
    return " ".join(text.split())[:300]
