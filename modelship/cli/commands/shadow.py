"""`modelship shadow start|status|stop|promote`: a release that predicts on a sample of live
requests without answering them, its agreement report, and turning it into a canary."""

from __future__ import annotations

import argparse
from typing import Any

from modelship.cli.arguments import output_option
from modelship.cli.targets import function_options, releases_of, resolve_target

SUMMARY = "mirror a sample of live requests to a release that answers no one; its report"


def register(commands: Any) -> None:
    """Adds `shadow` and its actions to the `modelship` parser."""
    reasoned = argparse.ArgumentParser(add_help=False)
    reasoned.add_argument("--reason", default="", help="why: recorded in the release history")
    parents = [output_option(), function_options(), reasoned]

    shadow = commands.add_parser("shadow", help=SUMMARY, description=f"{SUMMARY}.")
    actions = shadow.add_subparsers(dest="shadow_command", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", parents=parents, help="mirror a sample of the predict requests to a release"
    )
    start.add_argument("--version", required=True, help="the release (Lambda version) to shadow")
    start.add_argument(
        "--sample",
        required=True,
        help="share of the predict requests to mirror: 0.2 or 20%% (each is one more "
        "Lambda invocation)",
    )
    start.set_defaults(run=_start)

    status = actions.add_parser(
        "status",
        parents=[output_option(), function_options()],
        help="the running shadow and its agreement report so far",
    )
    status.set_defaults(run=_status)

    stop = actions.add_parser(
        "stop", parents=parents, help="stop mirroring; keep the final report in S3 and history"
    )
    stop.set_defaults(run=_stop)

    promote = actions.add_parser(
        "promote",
        parents=parents,
        help="stop the shadow and start a canary of its release",
    )
    promote.add_argument(
        "--weight", default="5%", help="the canary's share of traffic: 0.05 or 5%% (default 5%%)"
    )
    promote.add_argument(
        "--force",
        action="store_true",
        help="promote even if the report shows no requests, errors or low agreement",
    )
    promote.set_defaults(run=_promote)


def _releases(args: argparse.Namespace) -> Any:
    return releases_of(resolve_target(args))


def _start(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.shadow import parse_sample, start_shadow

    state = start_shadow(
        _releases(args), args.version, parse_sample(args.sample), reason=args.reason
    )
    return {
        "text": (
            f"shadow of version {state.lambda_version} ({state.model} {state.model_version}) "
            f"started: {state.sample_rate:.0%} of the predict requests are mirrored to it "
            "(the serving versions notice within a minute); users still get the stable "
            "answer. Follow it with `modelship shadow status`."
        ),
        "json": {"shadow": state.model_dump(mode="json")},
    }


def _status(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.shadow import current_shadow, shadow_report

    releases = _releases(args)
    state = current_shadow(releases)
    if state is None:
        return {
            "text": (
                f"no shadow running on {releases.target.function_name}; start one with "
                "`modelship shadow start --version N --sample 20%`"
            ),
            "json": {"shadow": None, "report": None},
        }
    report = shadow_report(releases, state)
    return {
        "text": f"started    by {state.started_by}\n{report.summary()}",
        "json": {"shadow": state.model_dump(mode="json"), "report": report.model_dump(mode="json")},
    }


def _stop(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.shadow import report_key, stop_shadow

    releases = _releases(args)
    report = stop_shadow(releases, reason=args.reason)
    location = f"s3://{releases.target.bucket}/{report_key(report)}"
    return {
        "text": f"shadow stopped; final report at {location}\n{report.summary()}",
        "json": {"report": report.model_dump(mode="json"), "report_uri": location},
    }


def _promote(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.releases.plan import parse_weight
    from modelship.releases.shadow import promote_shadow

    report, outcome = promote_shadow(
        _releases(args), weight=parse_weight(args.weight), force=args.force, reason=args.reason
    )
    record = outcome.record.model_dump(mode="json") if outcome.record else None
    return {
        "text": f"shadow stopped (final report kept); {outcome.message}\n{report.summary()}",
        "json": {"report": report.model_dump(mode="json"), "canary": record},
    }
