"""`modelship dashboard`: where a deployed model's dashboard is. On AWS, the CloudWatch
console's address of the dashboard the model's directory entry names; on the local emulator
(AWS_ENDPOINT_URL set, or a running emulator in --state-dir), its page on the emulator's
gateway (docs/monitoring.md, "Dashboards")."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelship.cli.arguments import DEFAULT_STATE_DIR, output_option
from modelship.cli.targets import ENV_STACK, chosen_model, deployment_options, requested
from modelship.errors import CommandFailed, UsageError

SUMMARY = "the address of a model's dashboard: the CloudWatch console, or the emulator's page"
# The console's address of a dashboard (CloudWatch User Guide, dashboards), on the console of
# the Region's partition: the AWS Management Console's Regional endpoints are
# <region>.console.aws.amazon.com (AWS General Reference, "AWS Management Console endpoints");
# China's and AWS GovCloud (US)'s consoles are their own domains.
CONSOLE_URL = (
    "https://{region}.{console}/cloudwatch/home?region={region}#dashboards/dashboard/{name}"
)
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
LOCAL_PAGES = "/_local/dashboards/"
ENV_ENDPOINT = "AWS_ENDPOINT_URL"
ENV_API_URL = "MODELSHIP_API_URL"


def register(commands: Any) -> None:
    """Adds `dashboard` to the `modelship` parser."""
    dashboard = commands.add_parser(
        "dashboard",
        parents=[
            output_option(),
            deployment_options(
                "model whose dashboard to show (default: $MODELSHIP_MODEL; the stack's only "
                "model if it has one)",
                "whose model directory names the dashboard",
            ),
        ],
        help=SUMMARY,
        description=f"{SUMMARY}. Against the local emulator (AWS_ENDPOINT_URL set, or an "
        "emulator running from --state-dir) it prints the page the emulator serves.",
    )
    dashboard.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"a running emulator's state directory (default {DEFAULT_STATE_DIR})",
    )
    dashboard.add_argument("--open", action="store_true", help="open it in a web browser")
    dashboard.set_defaults(run=_dashboard)


def _dashboard(args: argparse.Namespace) -> dict[str, Any]:
    import boto3

    from modelship.releases.directory import ModelDirectory

    emulator = _emulator(args.state_dir)
    stack, model_name = requested(args)
    if emulator is not None:
        api_url, environment = emulator
        stack = stack or environment.get(ENV_STACK) or None
        ssm = _client("ssm", environment)
    else:
        api_url, ssm = "", boto3.client("ssm")
    if not stack:
        raise UsageError(
            f"a dashboard belongs to a model of a deployment: give --stack (or set {ENV_STACK})"
        )
    model = chosen_model(ModelDirectory(ssm, stack), model_name)
    if not model.dashboard:
        raise CommandFailed(
            f"model {model.model} of stack {stack} lists no dashboard: the stack was deployed "
            "before dashboards; deploy it again"
        )
    if emulator is not None:
        url, where = f"{api_url.rstrip('/')}{LOCAL_PAGES}{quote(model.dashboard)}", "local"
    else:
        url, where = _console_url(boto3.session.Session(), model.dashboard), "aws"
    if args.open:
        import webbrowser

        webbrowser.open(url)
    data = {"stack": stack, "model": model.model, "dashboard": model.dashboard}
    return {"text": url, "json": {**data, "where": where, "url": url}}


def _console_url(session: Any, dashboard: str) -> str:
    """The dashboard's address on the console of the session's Region's partition."""
    from botocore.exceptions import NoRegionError, UnknownRegionError

    region = session.region_name
    if not region:
        raise NoRegionError()
    try:
        partition = session.get_partition_for_region(region)
    except UnknownRegionError:
        raise CommandFailed(
            f"region {region!r} is not a Region botocore knows: set AWS_REGION to the Region "
            "the stack is deployed in"
        ) from None
    console = CONSOLE_DOMAINS.get(partition)
    if console is None:
        raise CommandFailed(
            f"region {region} is in partition {partition}, whose console address modelship "
            f"does not know (it knows {', '.join(CONSOLE_DOMAINS)}): open dashboard "
            f"{dashboard} in that partition's CloudWatch console"
        )
    return CONSOLE_URL.format(region=region, console=console, name=quote(dashboard))


def _emulator(state_dir: Path) -> tuple[str, dict[str, str]] | None:
    """(API URL, environment) of the emulator this command talks to, or None for AWS: with
    AWS_ENDPOINT_URL set, the emulator behind it; without, one running from `state_dir`."""
    from modelship.local.background import read_state

    endpoint = os.environ.get(ENV_ENDPOINT)
    state = read_state(state_dir)
    found = state["endpoints"] if state else None
    if not endpoint:
        return (found["api_url"], found["environment"]) if found else None
    if found and found["aws_endpoint"].rstrip("/") == endpoint.rstrip("/"):
        return found["api_url"], {**found["environment"], **os.environ}
    api_url = os.environ.get(ENV_API_URL)
    if not api_url:
        raise CommandFailed(
            f"{ENV_ENDPOINT} points at {endpoint}, but no emulator with that endpoint runs "
            f"from {state_dir} and {ENV_API_URL} is not set: pass the emulator's --state-dir, "
            f"or set {ENV_API_URL} as `modelship local up` prints it"
        )
    return api_url, dict(os.environ)


def _client(service: str, environment: dict[str, str]) -> Any:
    """A client of the emulator named by `environment` (what `local up` exports)."""
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=environment.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environment.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environment.get("AWS_SESSION_TOKEN"),
        region_name=environment.get("AWS_REGION") or environment.get("AWS_DEFAULT_REGION"),
    )
    return session.client(service, endpoint_url=environment.get(ENV_ENDPOINT))
