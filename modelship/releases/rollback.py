"""Rolling back: by an operator (`rollback`), for a guardrail alarm (`rollback_on_alarm`), or
for a rollout that failed, was stopped or timed out (`abort_rollout`); and the events the
rollback function handles. Each clears the canary or returns the alias to an earlier
release, and records why; an automatic one undoes only what its cause owns."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

import modelship.releases.canary_alarms as canary_alarms
from modelship.errors import NotAnEarlierRelease, NothingToRollBack
from modelship.releases.models import AliasState, Outcome
from modelship.releases.releases import Releases

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
        return rollback_on_alarm(releases, detail.alarm_name, detail.state.reason)
    execution = event.detail
    if execution.status not in ABANDONED_STATUSES:
        return Outcome("rollback", False, None, f"rollout {execution.status}; nothing to undo")
    # A release rollout's input names its candidate; a retraining run's cannot (the candidate
    # is published mid-run), so the history records which execution started each canary.
    candidate = _candidate(execution.input)
    why = f"rollout {execution.status}"
    if execution.error or execution.cause:
        why += f": {execution.error or ''} {execution.cause or ''}".rstrip()
    return abort_rollout(releases, candidate, reason=why[:500], execution=execution.execution_arn)


def rollback(releases: Releases, *, to: str | None = None, reason: str = "") -> Outcome:
    """Clears a canary; with no canary, undoes the last promotion; `to` picks any earlier
    release instead (not a newer one: moving forward is a promotion)."""
    state = releases.alias_state()
    if to is not None:
        target = releases.release(to)
        if int(target.version) > int(state.stable):
            raise NotAnEarlierRelease(
                f"version {to} is newer than the stable release {state.stable} of "
                f"{releases.target.alias}; to move forward, canary it or run "
                f"`modelship promote --version {to}`"
            )
        if to == state.stable and state.candidate is None:
            return Outcome("rollback", False, None, f"version {to} is already stable")
        return _roll_to(releases, state, target.version, reason=reason)
    if state.candidate is not None:
        return _clear_canary(releases, state, reason=reason)
    previous = _promoted_from(releases, state.stable)
    if previous is None:
        raise NothingToRollBack(
            f"no canary on {releases.target.alias} and no recorded promotion to version "
            f"{state.stable}; pass --to VERSION to choose a release"
        )
    return _roll_to(releases, state, previous, reason=reason)


def _clear_canary(
    releases: Releases,
    state: AliasState,
    *,
    reason: str,
    alarm: str | None = None,
    execution: str | None = None,
) -> Outcome:
    candidate = state.candidate
    assert candidate is not None
    after = releases.alias.route(state, state.stable, {})
    canary_alarms.delete_canary_alarms(
        releases.cloudwatch, releases.target.function_name, candidate
    )
    record = releases.record(
        "rollback",
        state,
        after,
        from_version=candidate,
        to_version=state.stable,
        from_model=releases.version_info(candidate).model_version or None,
        to_model=releases.version_info(state.stable).model_version or None,
        reason=reason,
        alarm=alarm,
        execution=execution,
    )
    return Outcome(
        "rollback",
        True,
        record,
        f"canary version {candidate} cleared; stable is {state.stable}",
    )


def _roll_to(
    releases: Releases,
    state: AliasState,
    version: str,
    *,
    reason: str,
    alarm: str | None = None,
    execution: str | None = None,
) -> Outcome:
    after = releases.alias.route(state, version, {})
    if state.candidate is not None:
        canary_alarms.delete_canary_alarms(
            releases.cloudwatch, releases.target.function_name, state.candidate
        )
    record = releases.record(
        "rollback",
        state,
        after,
        from_version=state.stable,
        to_version=version,
        from_model=releases.version_info(state.stable).model_version or None,
        to_model=releases.version_info(version).model_version or None,
        reason=reason,
        alarm=alarm,
        execution=execution,
    )
    return Outcome("rollback", True, record, f"rolled back to version {version}; weights cleared")


def _promoted_from(releases: Releases, version: str) -> str | None:
    promotion = releases.history.promotion_of(version)
    return promotion.from_version if promotion is not None else None


def rollback_on_alarm(releases: Releases, alarm_name: str, alarm_reason: str = "") -> Outcome:
    """What the rollback function does for an alarm in ALARM. Only ever clears the canary
    (the alias stays on the stable release) or, within the post-promotion guard window,
    returns to the release recorded before the promotion; repeated or late alarms find
    nothing to do."""
    function = releases.target.function_name
    if not alarm_name.startswith(canary_alarms.alarm_prefix(function)):
        return Outcome("rollback", False, None, f"{alarm_name} is not a guardrail of {function}")
    state = releases.alias_state()
    guarded = canary_alarms.canary_version_of(alarm_name, function)
    reason = f"alarm {alarm_name}: {alarm_reason}".strip().rstrip(":")
    if state.candidate is not None:
        if guarded is not None and guarded != state.candidate:
            return Outcome(
                "rollback",
                False,
                None,
                f"{alarm_name} guards version {guarded}, not the current candidate "
                f"{state.candidate}; ignored",
            )
        return _clear_canary(releases, state, reason=reason, alarm=alarm_name)
    if guarded is not None:
        return Outcome("rollback", False, None, f"no canary on {releases.target.alias}; ignored")
    promotion = releases.history.promotion_of(state.stable)
    if (
        promotion is None
        or not promotion.from_version
        or releases.clock() - promotion.time > releases.post_promotion_guard
    ):
        return Outcome(
            "rollback", False, None, f"no canary and no recent promotion; {alarm_name} ignored"
        )
    window = releases.thresholds.attribution_window()
    cleared = releases.history.canary_cleared_since(promotion.time)
    if cleared is not None and releases.clock() - cleared.time <= window:
        # A failing canary trips the function-wide alarms too; those errors were the
        # canary's, already rolled back, not the promoted release's.
        return Outcome(
            "rollback",
            False,
            None,
            f"{alarm_name} fired within {window.seconds} s of the rollback "
            f"of canary v{cleared.from_version}; attributed to it, ignored",
        )
    return _roll_to(releases, state, promotion.from_version, reason=reason, alarm=alarm_name)


def abort_rollout(
    releases: Releases,
    candidate: str | None,
    *,
    reason: str,
    execution: str,
    alarm: str | None = None,
) -> Outcome:
    """Takes the traffic a failed, stopped or timed-out `execution` gave its candidate:
    clears the canary it started or shifted, or undoes the promotion it made. Only the
    execution that owns the current routing may undo it, so a late event of an earlier
    rollout (EventBridge retries for an hour) never undoes a later canary or promotion,
    nor an operator's. `candidate` (from the execution input, when it names one) must
    match too; a retraining run's input names none, the history finds it. `alarm`: the
    guardrail alarm that stopped the execution, when one did (the history names it, as
    for a rollback the alarm itself started)."""
    state = releases.alias_state()
    if state.candidate is not None:
        owner = releases.history.canary_owner(state.candidate)
        if (
            owner is not None
            and owner.execution == execution
            and candidate in (None, state.candidate)
        ):
            return _clear_canary(releases, state, reason=reason, alarm=alarm, execution=execution)
    else:
        promotion = releases.history.promotion_of(state.stable)
        if (
            promotion is not None
            and promotion.execution == execution
            and promotion.from_version
            and candidate in (None, state.stable)
        ):
            return _roll_to(
                releases,
                state,
                promotion.from_version,
                reason=reason,
                alarm=alarm,
                execution=execution,
            )
    return Outcome(
        "rollback",
        False,
        None,
        f"{execution.rsplit(':', 1)[-1]} does not own the current routing of "
        f"{releases.target.alias}; ignored",
    )


def _candidate(raw: str | None) -> str | None:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return None
    candidate = data.get("candidate") if isinstance(data, dict) else None
    return str(candidate) if candidate is not None and str(candidate).isdigit() else None
