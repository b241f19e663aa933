"""`modelship local up|down|status|token`: the local emulator (see docs/local.md)."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
from pathlib import Path
from typing import Any

from modelship.cli.arguments import DEFAULT_STATE_DIR, output_option

DEFAULT_CDK_OUT = Path("cdk.out")


def register(commands: Any) -> None:
    """Adds the `local` commands to the `modelship` parser."""
    common = output_option()
    place = argparse.ArgumentParser(add_help=False)
    place.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help=f"emulator state, worker /tmp dirs and logs (default {DEFAULT_STATE_DIR})",
    )
    local = commands.add_parser("local", help="the local emulator: AWS on this machine")
    local_commands = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")

    up = local_commands.add_parser(
        "up", parents=[common, place], help="start the emulator (foreground, or --detach)"
    )
    up.add_argument("--cdk-out", type=Path, default=DEFAULT_CDK_OUT, help="`make synth` output")
    up.add_argument("--port", type=int, default=3000, help="HTTP API port (default 3000)")
    up.add_argument("--aws-port", type=int, default=5000, help="AWS endpoint port (default 5000)")
    up.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="compress alarm periods and Step Functions waits by this factor (default 1)",
    )
    up.add_argument(
        "--workers", type=int, default=4, help="worker processes per function version (max)"
    )
    up.add_argument(
        "--no-seed",
        dest="seed_model",
        action="store_false",
        help="start with no model (by default the reference churn model v0 serves `live` "
        "of each churn model of the deployment)",
    )
    up.add_argument(
        "--no-iam",
        dest="iam",
        action="store_false",
        help="do not enforce the template's IAM policies (on by default; also MODELSHIP_IAM=off)",
    )
    up.add_argument("--detach", action="store_true", help="run in the background and return")
    up.set_defaults(run=_up)

    down = local_commands.add_parser("down", parents=[common, place], help="stop the emulator")
    down.set_defaults(run=_down)
    status = local_commands.add_parser(
        "status", parents=[common, place], help="is it running, where, and the live alias"
    )
    status.set_defaults(run=_status)
    token = local_commands.add_parser(
        "token",
        parents=[common, place],
        help="a JWT of the emulator's local issuer, for an API with authMode jwt",
    )
    token.add_argument("--audience", help="`aud` (default: the JWT authorizer's first audience)")
    token.add_argument(
        "--scope", action="append", default=[], help="a scope the token grants (repeatable)"
    )
    token.add_argument("--issuer", help="`iss` (default: the JWT authorizer's issuer)")
    token.add_argument("--lifetime", type=int, default=3600, help="seconds (default 3600)")
    token.set_defaults(run=_token)


def _announce(state: dict[str, Any]) -> dict[str, Any]:
    """Shell text: every line is a comment or an export, so
    `eval "$(modelship local up --detach)"` sets the environment and prints nothing."""
    environment = state["endpoints"]["environment"]
    lines = [
        f"# modelship local emulator running (pid {state['pid']}, time scale "
        f"{state['time_scale']:g})",
        f"# API        {state['endpoints']['api_url']}",
        f"# AWS        {state['endpoints']['aws_endpoint']}",
        "# export these so the modelship CLI and the AWS CLI talk to it:",
        *[f"export {key}={shlex.quote(str(value))}" for key, value in environment.items()],
    ]
    return {"text": "\n".join(lines), "json": state}


def _config(args: argparse.Namespace) -> Any:
    from modelship.local.emulator import EmulatorConfig
    from modelship.local.iam import enabled

    return EmulatorConfig(
        cdk_out=args.cdk_out,
        state_dir=args.state_dir,
        api_port=args.port,
        aws_port=args.aws_port,
        time_scale=args.time_scale,
        max_workers_per_version=args.workers,
        seed_model=args.seed_model,
        iam=args.iam and enabled(),
    )


def _up(args: argparse.Namespace) -> dict[str, Any] | None:
    from modelship.errors import CommandFailed
    from modelship.local.background import EmulatorStartFailed, read_state, start_detached

    running = read_state(args.state_dir)
    if running is not None:
        raise CommandFailed(
            f"an emulator is already running (pid {running['pid']}); `modelship local down` "
            "stops it"
        )
    if not args.cdk_out.is_dir():
        raise CommandFailed(f"{args.cdk_out} not found: run `make synth` first")
    if args.detach:
        try:
            return _announce(start_detached(_config(args)))
        except EmulatorStartFailed as exc:
            raise CommandFailed(str(exc)) from None
    _run_foreground(args)
    return None


def _run_foreground(args: argparse.Namespace) -> None:
    from modelship.errors import CommandFailed
    from modelship.local.background import state_file as emulator_state_file
    from modelship.local.deployer import UnsupportedResource
    from modelship.local.emulator import Emulator, PortInUse
    from modelship.local.template_checks import TemplateRefused

    emulator = Emulator(_config(args))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: emulator.request_stop())
    state_file = emulator_state_file(args.state_dir)
    try:
        try:
            found = emulator.start()
        except (PortInUse, UnsupportedResource, TemplateRefused) as exc:
            raise CommandFailed(str(exc)) from None
        state = {
            "pid": os.getpid(),
            "time_scale": args.time_scale,
            "state_dir": str(args.state_dir.resolve()),
            "endpoints": found.as_dict(),
        }
        announced = _announce(state)
        print(json.dumps(state, indent=2) if args.output == "json" else announced["text"])
        print("# Ctrl-C or `modelship local down` stops it", flush=True)
        # Written last: its presence means "ready" to `up --detach` and the tests.
        state_file.write_text(json.dumps(state, indent=2))
        emulator.wait()
    finally:
        state_file.unlink(missing_ok=True)
        emulator.stop()


def _down(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.local.background import stop_detached

    pid = stop_detached(args.state_dir)
    if pid is None:
        return {"text": "no emulator running", "json": {"stopped": False}}
    return {"text": f"stopped the emulator (pid {pid})", "json": {"stopped": True, "pid": pid}}


def _status(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.local.background import read_state

    state = read_state(args.state_dir)
    if state is None:
        return {"text": "no emulator running", "json": {"running": False}}
    announced = _announce(state)
    return {"text": announced["text"], "json": {"running": True, **state}}


def _token(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.errors import UsageError
    from modelship.local.local_issuer import mint_local_token

    if args.lifetime < 1:
        raise UsageError(f"--lifetime must be a positive number of seconds, got {args.lifetime}")
    try:
        token, claims = mint_local_token(
            args.state_dir, args.audience, args.scope, args.issuer, args.lifetime
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return {"text": token, "json": {"token": token, **claims, "lifetime": args.lifetime}}
