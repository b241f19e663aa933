"""Rollouts: the release state machine's execution input, its tasks, and following it.

The state machine gets the plan (`modelship.releases.plan`) as execution input (`steps`), so
any number of steps and durations works without redeploying; each task calls `perform_task`
through the release function.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from modelship.errors import CanaryInProgress, GuardrailTripped, InvalidWeight, NoCanary
from modelship.releases.canary_alarms import alarm_prefix
from modelship.releases.plan import PlanStep
from modelship.releases.releases import Releases
from modelship.releases.rollback import abort_rollout

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def rollout_input(
    candidate: str, steps: Iterable[PlanStep], *, reason: str = "", requested_by: str = ""
) -> dict[str, Any]:
    """The release state machine's execution input."""
    return {
        "candidate": candidate,
        "steps": [s.as_input() for s in steps],
        "reason": reason,
        "requested_by": requested_by,
    }


def start_rollout(sfn: Any, state_machine_arn: str, execution_input: dict[str, Any]) -> str:
    moment = datetime.now(UTC)
    name = f"rollout-v{execution_input['candidate']}-{moment:%Y%m%dT%H%M%S}"
    response = sfn.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
    )
    return str(response["executionArn"])


@dataclass(frozen=True)
class Progress:
    """One line of a followed rollout: a state entered, or the end."""

    status: str
    state: str | None
    detail: str


def follow(
    sfn: Any,
    execution_arn: str,
    *,
    poll_seconds: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Progress]:
    """Yields states as the execution enters them, then its final status."""
    reported: set[int] = set()
    while True:
        # Re-scan every poll: an event can appear before its details are filled in.
        events = sorted(_history(sfn, execution_arn), key=lambda e: int(e.get("id", 0)))
        for event in events:
            entered = event.get("stateEnteredEventDetails")
            if entered and int(event.get("id", 0)) not in reported:
                reported.add(int(event.get("id", 0)))
                yield Progress(
                    "RUNNING", entered.get("name"), _describe_input(entered.get("input"))
                )
        execution = sfn.describe_execution(executionArn=execution_arn)
        status = execution["status"]
        if status in TERMINAL:
            detail = execution.get("cause") or execution.get("error") or ""
            yield Progress(status, None, detail)
            return
        sleep(poll_seconds)


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def _describe_input(raw: str | None) -> str:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return ""
    if isinstance(data, dict) and "weight" in data:
        return f"weight {float(data['weight']):.0%}, bake {data.get('bake_seconds', 0)}s"
    return ""


class RolloutTask(BaseModel):
    """The input of one release state machine task."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    action: Literal["apply_step", "check", "promote", "rollback"]
    candidate: str = Field(pattern=r"^\d+$")
    weight: float | None = None
    # Index of the plan step: only the first step may start the canary, so a later step
    # never brings back a candidate the guardrails have already rolled back.
    step: int = 0
    cause: str | None = None
    execution: str | None = None


def perform_task(releases: Releases, task: RolloutTask) -> dict[str, Any]:
    """One task of the release state machine. Errors propagate: the machine catches them,
    rolls back and fails with the cause."""
    if task.action == "apply_step":
        if task.weight is None:
            raise InvalidWeight("apply_step needs a weight")
        state = releases.alias_state()
        if state.candidate is None and task.step == 0:
            outcome = releases.start_canary(
                task.weight,
                task.candidate,
                reason=f"rollout {task.execution or ''}".strip(),
                execution=task.execution,
            )
        elif state.candidate == task.candidate:
            outcome = releases.shift(
                task.weight,
                candidate=task.candidate,
                reason="rollout step",
                execution=task.execution,
            )
        elif state.candidate is None:
            raise NoCanary(
                f"the canary of version {task.candidate} is gone (rolled back?); rollout stopped"
            )
        else:
            raise CanaryInProgress(
                f"another canary (version {state.candidate}) is running; rollout of "
                f"{task.candidate} refused"
            )
        return {"action": task.action, "changed": outcome.changed, "message": outcome.message}
    if task.action == "check":
        states = releases.check_guardrails(task.candidate)
        return {"action": task.action, "alarms": {s.name: s.state for s in states}}
    if task.action == "promote":
        outcome = releases.promote(
            candidate=task.candidate, reason="rollout complete", execution=task.execution
        )
        return {"action": task.action, "changed": outcome.changed, "message": outcome.message}
    outcome = abort_rollout(
        releases,
        task.candidate,
        reason=_cause(task.cause),
        execution=task.execution or "",
        alarm=_tripped_alarm(task.cause, releases.target.function_name),
    )
    return {"action": task.action, "changed": outcome.changed, "message": outcome.message}


def _cause(raw: str | None) -> str:
    """The Catch hands over the failed task's Cause: for a Lambda error, a JSON object."""
    if not raw:
        return "rollout failed"
    try:
        data = json.loads(raw)
    except ValueError:
        return f"rollout failed: {raw[:500]}"
    if isinstance(data, dict) and "errorMessage" in data:
        return f"rollout failed: {data.get('errorType', 'Error')}: {data['errorMessage']}"[:500]
    return f"rollout failed: {raw[:500]}"


def _tripped_alarm(raw: str | None, function_name: str) -> str | None:
    """The first alarm a GuardrailTripped cause names ("guardrail alarm in ALARM: NAME
    (reason); ..."), when it is a guardrail of this function: guardrail alarm names have no
    spaces."""
    try:
        error = json.loads(raw or "{}")
    except ValueError:
        return None
    if not isinstance(error, dict) or error.get("errorType") != GuardrailTripped.__name__:
        return None
    _, _, named = str(error.get("errorMessage", "")).partition(": ")
    name = named.split(" ", 1)[0].split(";", 1)[0]
    return name if name.startswith(alarm_prefix(function_name)) else None
