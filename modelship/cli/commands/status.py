"""`modelship status`: one model's stable and candidate releases, alarms and rollouts; with a
stack and no --model, every model of the deployment in one table."""

from __future__ import annotations

import argparse
from typing import Any

from modelship import names
from modelship.cli.arguments import output_option
from modelship.cli.targets import (
    function_options,
    model_directory,
    release_state_machine_option,
    releases_of,
    requested,
    resolve_target,
    retrain_state_machine_option,
    target_of,
)
from modelship.errors import UsageError

SUMMARY = "stable, candidate and its last verdict, alarms, rollouts running or failed in 24 h"
# One model's options; with every model in one table they would apply to all of them.
_ONE_MODEL_ONLY = {
    "alias": "--alias",
    "state_machine": "--state-machine",
    "retrain_state_machine": "--retrain-state-machine",
}


def register(commands: Any) -> None:
    """Adds `status` to the `modelship` parser."""
    status = commands.add_parser(
        "status",
        parents=[output_option(), function_options()],
        help=SUMMARY,
        description=f"{SUMMARY}. With --stack (or $MODELSHIP_STACK) and no --model: one row per "
        "model of the deployment.",
    )
    release_state_machine_option(status)
    retrain_state_machine_option(status, "--retrain-state-machine")
    status.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> dict[str, Any]:
    stack, model = requested(args)
    if stack and not model and not args.function:
        return _deployment_status(stack, args)
    return _model_status(args)


def _model_status(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    target = resolve_target(args)
    machines = target.release_state_machine or target.retrain_state_machine
    sfn = boto3.client("stepfunctions") if machines else None
    releases = releases_of(target)
    status = releases.status(sfn, target.release_state_machine, target.retrain_state_machine)
    data = status.as_dict()
    shadow = _shadow(releases, status)
    data["shadow"] = shadow.model_dump(mode="json") if shadow else None
    stable, candidate = status.stable, status.candidate
    lines = [
        f"function   {status.function_name}  alias {status.alias}",
        f"stable     v{stable.version:<4} {stable.model_name} "
        f"{stable.model_version or '(no model)'}  {data['stable_weight']:.1%}",
    ]
    if candidate is not None:
        lines.append(
            f"candidate  v{candidate.version:<4} {candidate.model_name} {candidate.model_version}"
            f"  {status.candidate_weight:.1%}"
        )
        if status.verdict is not None:
            lines.append(f"verdict    {status.verdict.summary()}")
    else:
        lines.append("candidate  none")
    if shadow is not None:
        lines.append(
            f"shadow     v{shadow.lambda_version:<4} {shadow.model} {shadow.model_version}  "
            f"{shadow.sample_rate:.0%} mirrored since {shadow.started_at:%Y-%m-%dT%H:%M:%SZ} "
            "(`modelship shadow status`)"
        )
    lines.extend(f"alarm      {a.state:<17} {a.name}" for a in status.alarms)
    if not status.alarms:
        lines.append("alarms     none")
    if machines:
        lines.extend(f"rollout    {run.summary()}" for run in status.rollouts)
        if not status.rollouts:
            lines.append("rollout    none running or failed in the last 24 h")
    return {"text": "\n".join(lines), "json": data}


def _shadow(releases: Any, status: Any) -> Any:
    """The model's running shadow (a ShadowState), or None."""
    from modelship.releases.shadow import current_shadow

    model = status.stable.model_name or (status.candidate.model_name if status.candidate else "")
    return current_shadow(releases, model) if model else None


def _deployment_status(stack: str, args: argparse.Namespace) -> dict[str, Any]:
    """Every model of the stack, the default first: one row each, or a JSON list."""
    import boto3

    for dest, flag in _ONE_MODEL_ONLY.items():
        if getattr(args, dest, None):
            raise UsageError(f"{flag} addresses one model: give --model with it")
    clients: dict[str, Any] = {}
    sfn = boto3.client("stepfunctions")
    rows: list[dict[str, Any]] = []
    for model in model_directory(stack).models():
        row: dict[str, Any] = {"model": model.model, "default": model.default}
        try:
            target = target_of(stack, model, args)
            status = releases_of(target, clients).status(
                sfn, target.release_state_machine, target.retrain_state_machine
            )
        except Exception as exc:
            # One model that cannot be read (its function deleted, access denied) is a row
            # that says why, not a table that hides every other model; the exit status is 1.
            from modelship.cli.errors import failure_of

            failure = failure_of(exc)
            if failure is None:
                raise
            row.update(function=model.function, error=failure.as_dict())
        else:
            row.update(status.as_dict())
        rows.append(row)
    failed = any("error" in row for row in rows)
    return {"text": _table(rows), "json": rows, "exit_code": 1 if failed else 0}


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("MODEL", "STABLE", "CANDIDATE", "ALARMS IN ALARM", "ROLLOUT")
    cells = [header, *(_cells(row) for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(header) - 1)]
    return "\n".join(
        "  ".join(
            [*(cell.ljust(width) for cell, width in zip(line, widths, strict=False)), line[-1]]
        ).rstrip()
        for line in cells
    )


def _cells(row: dict[str, Any]) -> tuple[str, str, str, str, str]:
    model = f"{row['model']} (default)" if row["default"] else row["model"]
    if "error" in row:
        error = row["error"]
        return model, "-", "-", "-", f"error [{error['reason']}]: {error['message']}"
    stable, candidate = row["stable"], row["candidate"]
    stable_cell = f"v{stable['version']} {stable['model_version'] or '(no model)'}"
    candidate_cell = (
        f"v{candidate['version']} {candidate['model_version']} {row['candidate_weight']:.1%}"
        if candidate
        else "none"
    )
    prefix = names.guardrail_alarm_prefix(row["function"])
    alarming = [a["name"].removeprefix(prefix) for a in row["alarms"] if a["state"] == "ALARM"]
    return model, stable_cell, candidate_cell, ", ".join(alarming) or "none", _rollout(row)


def _rollout(row: dict[str, Any]) -> str:
    """The running rollout, else the latest that failed; `+N` more if there are others."""
    runs = sorted(row["rollouts"], key=lambda run: run["status"] != "RUNNING")
    if not runs:
        return "none"
    first = runs[0]
    text = f"{first['status']} {first['kind']} {first['execution'].rsplit(':', 1)[-1]}"
    return f"{text} (+{len(runs) - 1} more)" if len(runs) > 1 else text
