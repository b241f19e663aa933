"""Release commands of the CLI (release, canary, promote, rollback, history, rollout). Each
addresses one deployed model: `modelship.cli.targets` resolves which."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from modelship.cli.arguments import output_option
from modelship.cli.targets import (
    ENV_MODEL,
    function_options,
    release_state_machine_option,
    releases_of,
    resolve_target,
)

# release create's --model is the model to release: with a stack, the deployed model (its
# directory entry names the function); with --function, the model name as before.
CREATE_MODEL_HELP = (
    f"the model to release: with --stack, the deployment's model (default: ${ENV_MODEL}; the "
    "stack's only model if it has one); with --function, its model name (default: the "
    "function's MODEL_NAME)"
)


def register(commands: Any) -> None:
    """Adds the release commands to the `modelship` parser."""
    common = output_option()
    # Only the commands that change the alias record why; history takes no reason.
    reasoned = argparse.ArgumentParser(add_help=False)
    reasoned.add_argument("--reason", default="", help="why: recorded in the release history")
    parents = [common, function_options(), reasoned]

    release = commands.add_parser("release", help="create releases of the predict function")
    release_commands = release.add_subparsers(
        dest="release_command", required=True, metavar="ACTION"
    )
    create = release_commands.add_parser(
        "create",
        parents=[common, function_options(CREATE_MODEL_HELP), reasoned],
        help="pin a model version in the function and publish a Lambda version",
    )
    create.add_argument("model_version", nargs="?", default="latest", help="default: latest")
    create.add_argument("--sha256", help="refuse unless the artifact has this sha256")
    create.add_argument(
        "--allow-schema-change",
        action="store_true",
        help="release even if the feature schema differs from the stable release's",
    )
    create.set_defaults(run=_create, model_names_release=True)

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

    history = commands.add_parser(
        "history", parents=[common, function_options()], help="the release history"
    )
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
    release_state_machine_option(rollout)
    rollout.set_defaults(run=_rollout)


def _releases(args: argparse.Namespace) -> Any:
    return releases_of(resolve_target(args))


def _outcome(outcome: Any) -> dict[str, Any]:
    record = outcome.record.model_dump(mode="json") if outcome.record else None
    return {
        "text": outcome.message if outcome.changed else f"nothing to do: {outcome.message}",
        "json": {"action": outcome.action, "changed": outcome.changed, "record": record},
    }


def _create(args: argparse.Namespace) -> dict[str, Any]:
    target = resolve_target(args)
    info, record = releases_of(target).create(
        args.model_version,
        model_name=target.model.model if target.model else args.model,
        expected_sha256=args.sha256,
        allow_schema_change=args.allow_schema_change,
        reason=args.reason,
    )
    return {
        "text": (
            f"released {info.model_name} {info.model_version} as {target.function} version "
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

    target = resolve_target(args)
    machine = target.release_machine()
    steps = parse_plan(args.plan)
    releases = releases_of(target)
    candidate = args.version or releases.latest_created()
    releases.release(candidate)
    sfn = boto3.client("stepfunctions")
    status = releases.status(sfn, machine)
    if status.rollouts_running:
        raise CommandFailed(f"a rollout is already running: {status.rollouts_running[0]}")
    if status.candidate is not None:
        raise CommandFailed(
            f"a canary of version {status.candidate.version} is running; "
            "promote or roll it back first"
        )
    execution = start_rollout(
        sfn,
        machine,
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
