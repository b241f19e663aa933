"""`modelship retrain`: start the retraining state machine and, with --wait, follow it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from modelship.cli.arguments import output_option, parse_params
from modelship.cli.targets import deployment_options, resolve_target, retrain_state_machine_option


def register(commands: Any) -> None:
    """Adds `retrain` to the `modelship` parser."""
    common = output_option()
    retrain = commands.add_parser(
        "retrain",
        parents=[common, deployment_options()],
        help="start the retraining state machine",
        description=(
            "Starts a retraining run: prepare data, train, evaluate against the champion, gate, "
            "register and release. With --wait, prints each state as the run enters it."
        ),
    )
    retrain_state_machine_option(retrain, "--state-machine")
    retrain.add_argument("--dataset-key", help="datasets/<name>/... key (default: newest)")
    retrain.add_argument("--algorithm", help="override the configured algorithm")
    retrain.add_argument(
        "--entry-point",
        metavar="MODULE:FUNCTION",
        help="train with this function of the deployed trainingCode instead of the configured "
        "one ('' = the built-in algorithm)",
    )
    retrain.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter"
    )
    retrain.add_argument("--plan", help="release plan for the challenger, e.g. 5:5m,25:10m,100")
    retrain.add_argument("--wait", action="store_true", help="follow the run until it ends")
    retrain.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    retrain.set_defaults(run=_retrain)


def _retrain(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    from modelship.errors import CommandFailed
    from modelship.releases.rollout import follow
    from modelship.retraining.trigger import manual_trigger, start_retraining

    # An explicit machine addresses the run as --function does a release command's.
    machine = args.retrain_state_machine or resolve_target(args).retrain_machine()
    sfn = boto3.client("stepfunctions")
    trigger = manual_trigger(args.dataset_key, actor=os.environ.get("USER", "cli"))
    execution_input = trigger.execution_input()
    options: dict[str, Any] = {}
    if args.algorithm:
        options["algorithm"] = args.algorithm
    if args.param:
        options["params"] = parse_params(args.param)
    if args.entry_point is not None:
        options["entry_point"] = _entry_point(args.entry_point)
    if options:
        execution_input["options"] = options
    if args.plan:
        from modelship.releases.plan import parse_plan

        execution_input["steps"] = [s.as_input() for s in parse_plan(args.plan)]
    started = start_retraining(sfn, machine, trigger, execution_input)
    arn = str(started.execution_arn)
    if not args.wait:
        return {"text": f"started {trigger.execution_name}\n{arn}", "json": {"execution_arn": arn}}
    print(
        f"started {trigger.execution_name}",
        file=sys.stderr if args.output == "json" else sys.stdout,
    )
    states: list[dict[str, str]] = []
    final = None
    try:
        for progress in follow(sfn, arn, poll_seconds=args.poll):
            if progress.state is None:
                final = progress
                break
            states.append({"state": progress.state, "detail": progress.detail})
            if args.output == "text":
                print(f"  -> {progress.state} {progress.detail}".rstrip(), flush=True)
    except KeyboardInterrupt:
        return {
            "text": f"stopped following; the run goes on: {arn}",
            "json": {"execution_arn": arn},
        }
    output = _final_output(sfn, arn)
    status = final.status if final else "UNKNOWN"
    summary = f"{status}: {output.get('outcome', '')} {final.detail if final else ''}".strip()
    if status != "SUCCEEDED":
        raise CommandFailed(f"retraining {trigger.execution_name} ended {summary}")
    return {
        "text": summary,
        "json": {"execution_arn": arn, "status": status, "states": states, "output": output},
    }


def _entry_point(value: str) -> str:
    """Checked here, so a typo fails now rather than in the run's Prepare task."""
    from modelship.errors import UsageError
    from modelship.retraining.settings import check_entry_point

    try:
        return check_entry_point(value)
    except ValueError as exc:
        raise UsageError(f"--entry-point {value[:200]!r}: {exc}") from None


def _final_output(sfn: Any, arn: str) -> dict[str, Any]:
    raw = sfn.describe_execution(executionArn=arn).get("output") or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    notice = data.get("notice")
    outcome = notice.get("outcome", "") if isinstance(notice, dict) else ""
    return {"outcome": outcome, **data}
