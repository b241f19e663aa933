"""Releases: ship a model version to the `live` alias safely.

A release is a published Lambda version pinned to one model version. `Releases` creates one,
starts a canary, shifts its weight and promotes it; the `rollback` module takes the traffic
back (`rollback.rollback` for an operator, `rollback_on_alarm`, `abort_rollout`); a rollout
runs a plan (`parse_plan`: `5:5m,25:10m,100`) through the release state machine, whose tasks
are `perform_task`. (`rollback` names the module here, so the function is not re-exported.)

Modules: releases (transitions), rollback, plan (the one rollout plan grammar), rollout
(state machine input and tasks, following a run), rollout_runs, lambda_alias (versions and
the alias), compatibility (checks at create), history, canary_alarms (guardrails), models
(value types), settings (the release functions' settings), directory (a deployment's models,
listed in SSM), canary_samples and verdict (the canary judge: `judge` a window under a
`VerdictPolicy`), verdict_stats (its tests), canary_judgement (`judge_canary`: a running
canary's verdict, read from its metrics and recorded in the history), shadow (shadow
releases: start, stop, report, promote) and shadow_agreement (the shadow's report, read from
its metrics).

The names below are imported on first use: `modelship.releases.plan` is standard library
only, and the CDK app imports it without pulling boto3 or pydantic in through this package.
Modules inside the package import from their siblings, never from here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "AlarmState": "canary_alarms",
    "GuardrailThresholds": "canary_alarms",
    "DeployedModel": "directory",
    "ModelDirectory": "directory",
    "HistoryRecord": "history",
    "ReleaseHistory": "history",
    "AliasState": "models",
    "Outcome": "models",
    "ReleaseInfo": "models",
    "ReleaseTarget": "models",
    "Status": "models",
    "VerdictSummary": "models",
    "judge_canary": "canary_judgement",
    "InvalidRolloutPlan": "plan",
    "PlanStep": "plan",
    "format_plan": "plan",
    "parse_plan": "plan",
    "parse_weight": "plan",
    "steps_from_input": "plan",
    "Verdict": "verdict",
    "VerdictPolicy": "verdict",
    "judge": "verdict",
    "Releases": "releases",
    "abort_rollout": "rollback",
    "handle_rollback_event": "rollback",
    "parse_rollback_event": "rollback",
    "rollback_on_alarm": "rollback",
    "RolloutTask": "rollout",
    "follow": "rollout",
    "perform_task": "rollout",
    "rollout_input": "rollout",
    "start_rollout": "rollout",
    "ReleaseSettings": "settings",
    "releases_for": "settings",
    "current_shadow": "shadow",
    "promote_shadow": "shadow",
    "shadow_report": "shadow",
    "start_shadow": "shadow",
    "stop_shadow": "shadow",
    "ShadowReport": "shadow_agreement",
}

__all__ = [
    "AlarmState",
    "AliasState",
    "DeployedModel",
    "GuardrailThresholds",
    "HistoryRecord",
    "InvalidRolloutPlan",
    "ModelDirectory",
    "Outcome",
    "PlanStep",
    "ReleaseHistory",
    "ReleaseInfo",
    "ReleaseSettings",
    "ReleaseTarget",
    "Releases",
    "RolloutTask",
    "ShadowReport",
    "Status",
    "Verdict",
    "VerdictPolicy",
    "VerdictSummary",
    "abort_rollout",
    "current_shadow",
    "follow",
    "format_plan",
    "handle_rollback_event",
    "judge",
    "judge_canary",
    "parse_plan",
    "parse_rollback_event",
    "parse_weight",
    "perform_task",
    "promote_shadow",
    "releases_for",
    "rollback_on_alarm",
    "rollout_input",
    "shadow_report",
    "start_rollout",
    "start_shadow",
    "steps_from_input",
    "stop_shadow",
]

if TYPE_CHECKING:
    from modelship.releases.canary_alarms import AlarmState, GuardrailThresholds
    from modelship.releases.canary_judgement import judge_canary
    from modelship.releases.directory import DeployedModel, ModelDirectory
    from modelship.releases.history import HistoryRecord, ReleaseHistory
    from modelship.releases.models import (
        AliasState,
        Outcome,
        ReleaseInfo,
        ReleaseTarget,
        Status,
        VerdictSummary,
    )
    from modelship.releases.plan import (
        InvalidRolloutPlan,
        PlanStep,
        format_plan,
        parse_plan,
        parse_weight,
        steps_from_input,
    )
    from modelship.releases.releases import Releases
    from modelship.releases.rollback import (
        abort_rollout,
        handle_rollback_event,
        parse_rollback_event,
        rollback_on_alarm,
    )
    from modelship.releases.rollout import (
        RolloutTask,
        follow,
        perform_task,
        rollout_input,
        start_rollout,
    )
    from modelship.releases.settings import ReleaseSettings, releases_for
    from modelship.releases.shadow import (
        current_shadow,
        promote_shadow,
        shadow_report,
        start_shadow,
        stop_shadow,
    )
    from modelship.releases.shadow_agreement import ShadowReport
    from modelship.releases.verdict import Verdict, VerdictPolicy, judge


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
