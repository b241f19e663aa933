"""Release commands of the CLI (release, canary, promote, rollback, status, history, rollout)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from modelship import names
from modelship.cli.arguments import ENV_RETRAIN_STATE_MACHINE, add_bucket_option, output_option

ENV_FUNCTION = "MODELSHIP_FUNCTION"
ENV_ALIAS = "MODELSHIP_ALIAS"
ENV_STATE_MACHINE = "MODELSHIP_RELEASE_STATE_MACHINE"


def register(commands: Any) -> None:
    """Adds the release commands to the `modelship` parser."""
    common = output_option()
    target = argparse.ArgumentParser(add_help=False)
    target.add_argument(
        "--function",
        default=os.environ.get(ENV_FUNCTION),
        help=f"predict function name (default: ${ENV_FUNCTION})",
    )
    target.add_argument(
        "--alias",
        default=os.environ.get(ENV_ALIAS, names.DEFAULT_ALIAS_NAME),
        help=f"alias that takes the traffic (default: ${ENV_ALIAS} or live)",
    )
    add_bucket_option(target)
    # Only the commands that change the alias record why; status and history take no reason.
    reasoned = argparse.ArgumentParser(add_help=False)
    reasoned.add_argument("--reason", default="", help="why: recorded in the release history")
    parents = [common, target, reasoned]
    read_only = [common, target]

    release = commands.add_parser("release", help="create releases of the predict function")
    release_commands = release.add_subparsers(
        dest="release_command", required=True, metavar="ACTION"
    )
    create = release_commands.add_parser(
        "create",
        parents=parents,
        help="pin a model version in the function and publish a Lambda version",
    )
    create.add_argument("model_version", nargs="?", default="latest", help="default: latest")
    create.add_argument("--model", help="model name (default: the function's MODEL_NAME)")
    create.add_argument("--sha256", help="refuse unless the artifact has this sha256")
    create.add_argument(
        "--allow-schema-change",
        action="store_true",
        help="release even if the feature schema differs from the stable release's",
    )
    create.set_defaults(run=_create)

    canary = commands.add_parser("canary", help="send part of the alias's traffic to a release")
    canary_commands = canary.add_subparsers(dest="canary_command", required=True, metavar="ACTION")
    start = canary_commands.add_parser("start", parents=parents, help="start a canary")
    start.add_argument("--weight", required=True, help="share of traffic: 0.05 or 5%%")
    start.add_argument("--version", help="Lambda version (default: the latest release created)")
    start.add_argument("--force", action="store_true", help="replace a running canary")
    start.set_defaults(run=_canary_start)
    shift = canary_commands.add_parser("shift", parents=parents, help="change the canary weight")
    shift.add_argument("--weight", required=True, help="share of traffic: 0.25 or 25%%")
    shift.set_defaults(run=_canary_shift)

    promote = commands.add_parser(
        "promote", parents=parents, help="make the canary the stable release, clear the weights"
    )
    promote.add_argument(
        "--version", help="with no canary running, promote this Lambda version directly"
    )
    promote.set_defaults(run=_promote)

    rollback = commands.add_parser(
        "rollback",
        parents=parents,
        help="clear the canary; with none, undo the last promotion",
    )
    rollback.add_argument("--to", help="go back to this earlier release (Lambda version)")
    rollback.set_defaults(run=_rollback)

    status = commands.add_parser(
        "status",
        parents=read_only,
        help="stable, candidate, alarms, and rollouts running or failed in the last 24 h",
    )
    _state_machine_arg(status)
    status.add_argument(
        "--retrain-state-machine",
        default=os.environ.get(ENV_RETRAIN_STATE_MACHINE),
        help=f"retraining state machine ARN (default: ${ENV_RETRAIN_STATE_MACHINE}): its runs "
        "canary their challenger",
    )
    status.set_defaults(run=_status)

    history = commands.add_parser("history", parents=read_only, help="the release history")
    history.add_argument("--limit", type=int, default=50, help="newest N records (default 50)")
    history.set_defaults(run=_history)

    rollout = commands.add_parser(
        "rollout",
        parents=parents,
        help="run a rollout plan through the release state machine and follow it",
    )
    rollout.add_argument("--plan", required=True, help="e.g. 5:5m,25:10m,100")
    rollout.add_argument("--version", help="Lambda version (default: the latest release created)")
    rollout.add_argument("--no-follow", action="store_true", help="start it and return")
    rollout.add_argument("--poll", type=float, default=2.0, help="seconds between updates")
    _state_machine_arg(rollout)
    rollout.set_defaults(run=_rollout)


def _state_machine_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-machine",
        default=os.environ.get(ENV_STATE_MACHINE),
        help=f"release state machine ARN (default: ${ENV_STATE_MACHINE})",
    )


def _releases(args: argparse.Namespace) -> Any:
    import boto3

    from modelship.errors import CommandFailed
    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases

    if not args.function:
        raise CommandFailed(f"--function is required (or set {ENV_FUNCTION})")
    return Releases(
        ReleaseTarget(args.function, args.alias, args.bucket),
        lambda_client=boto3.client("lambda"),
        s3=boto3.client("s3"),
        cloudwatch=boto3.client("cloudwatch"),
        sts=boto3.client("sts"),
    )


def _outcome(outcome: Any) -> dict[str, Any]:
    record = outcome.record.model_dump(mode="json") if outcome.record else None
    return {
        "text": outcome.message if outcome.changed else f"nothing to do: {outcome.message}",
        "json": {"action": outcome.action, "changed": outcome.changed, "record": record},
    }


def _create(args: argparse.Namespace) -> dict[str, Any]:
    info, record = _releases(args).create(
        args.model_version,
        model_name=args.model,
        expected_sha256=args.sha256,
        allow_schema_change=args.allow_schema_change,
        reason=args.reason,
    )
    return {
        "text": (
            f"released {info.model_name} {info.model_version} as {args.function} version "
            f"{info.version} (sha256 {info.model_sha256[:12]}...); it takes no traffic until "
            f"`modelship canary start --version {info.version}` or `modelship rollout`"
        ),
        "json": {
            "version": info.version,
            "model_name": info.model_name,
            "model_version": info.model_version,
            "model_sha256": info.model_sha256,
            "description": info.description,
            "record": record.model_dump(mode="json"),
        },
    }


def _canary_start(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.plan import parse_weight

    outcome = _releases(args).start_canary(
        parse_weight(args.weight), args.version, force=args.force, reason=args.reason
    )
    return _outcome(outcome)


def _canary_shift(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.plan import parse_weight

    return _outcome(_releases(args).shift(parse_weight(args.weight), reason=args.reason))


def _promote(args: argparse.Namespace) -> dict[str, Any]:
    return _outcome(
        _releases(args).promote(
            candidate=args.version, direct=bool(args.version), reason=args.reason
        )
    )


def _rollback(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.rollback import rollback

    return _outcome(rollback(_releases(args), to=args.to, reason=args.reason))


def _status(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    machines = args.state_machine or args.retrain_state_machine
    sfn = boto3.client("stepfunctions") if machines else None
    status = _releases(args).status(sfn, args.state_machine, args.retrain_state_machine)
    data = status.as_dict()
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
    else:
        lines.append("candidate  none")
    lines.extend(f"alarm      {a.state:<17} {a.name}" for a in status.alarms)
    if not status.alarms:
        lines.append("alarms     none")
    if machines:
        lines.extend(f"rollout    {run.summary()}" for run in status.rollouts)
        if not status.rollouts:
            lines.append("rollout    none running or failed in the last 24 h")
    return {"text": "\n".join(lines), "json": data}


def _history(args: argparse.Namespace) -> dict[str, Any]:
    records = _releases(args).history.records(limit=args.limit)
    return {
        "text": "\n".join(r.summary() for r in records) or "(no release history)",
        "json": {"records": [r.model_dump(mode="json") for r in records]},
    }


def _rollout(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    from modelship.errors import CommandFailed
    from modelship.releases.plan import format_plan, parse_plan
    from modelship.releases.rollout import follow, rollout_input, start_rollout

    if not args.state_machine:
        raise CommandFailed(f"--state-machine is required (or set {ENV_STATE_MACHINE})")
    steps = parse_plan(args.plan)
    releases = _releases(args)
    candidate = args.version or releases.latest_created()
    releases.release(candidate)
    sfn = boto3.client("stepfunctions")
    status = releases.status(sfn, args.state_machine)
    if status.rollouts_running:
        raise CommandFailed(f"a rollout is already running: {status.rollouts_running[0]}")
    if status.candidate is not None:
        raise CommandFailed(
            f"a canary of version {status.candidate.version} is running; "
            "promote or roll it back first"
        )
    execution = start_rollout(
        sfn,
        args.state_machine,
        rollout_input(candidate, steps, reason=args.reason, requested_by=releases.actor()),
    )
    live = args.output == "text"

    def say(line: str) -> None:
        if live:
            print(line, flush=True)

    say(f"rollout of version {candidate}: {format_plan(steps)}")
    say(f"execution {execution}")
    if args.no_follow:
        return {"text": "started; follow with `modelship status`", "json": {"execution": execution}}
    final = None
    try:
        for progress in follow(sfn, execution, poll_seconds=args.poll):
            if progress.state is None:
                final = progress
            else:
                say(f"  {progress.state}  {progress.detail}".rstrip())
    except KeyboardInterrupt:
        print("stopped following; the rollout goes on", file=sys.stderr)
        return {
            "text": f"still running: {execution}",
            "json": {"execution": execution, "status": "RUNNING"},
        }
    assert final is not None
    result = {"execution": execution, "status": final.status, "cause": final.detail}
    if final.status != "SUCCEEDED":
        raise CommandFailed(f"rollout {final.status}: {final.detail or 'see modelship history'}")
    return {"text": f"rollout SUCCEEDED: version {candidate} promoted", "json": result}
