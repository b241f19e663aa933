"""Plumbing of the `modelship` command line: the top-level parser, the table of commands and
the one place a command's result or failure becomes its output and exit status. Every command
takes `--output json`; every failure, usage errors included, exits 1 with one line on stderr
naming its reason code (one JSON object under `--output json`), as mapped by
`modelship.cli.errors`.

Each command lives in a module of `modelship.cli.commands`, named by dotted path in COMMANDS
and imported only for the command being run: `modelship --help` lists the commands from the
table without importing any of them, and a command module imports its domain (boto3,
scikit-learn, the emulator) inside its handlers."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NamedTuple, NoReturn

from modelship.errors import UsageError


class Command(NamedTuple):
    module: str  # dotted path of the module whose register() adds this command
    summary: str  # the help `modelship --help` shows; the module's register() gives the same


_RELEASES = "modelship.cli.commands.releases"
# In `modelship --help` order; the commands of one module are adjacent.
COMMANDS: dict[str, Command] = {
    "train": Command(
        "modelship.cli.commands.training", "train a model and write model.joblib + manifest.json"
    ),
    "data": Command("modelship.cli.commands.data", "the reference dataset"),
    "models": Command("modelship.cli.commands.models", "package models; the model registry in S3"),
    "invoke": Command(
        "modelship.cli.commands.invoke", "run the predict handler locally on an event file"
    ),
    "release": Command(_RELEASES, "create releases of the predict function"),
    "canary": Command(_RELEASES, "send part of the alias's traffic to a release"),
    "promote": Command(_RELEASES, "make the canary the stable release, clear the weights"),
    "rollback": Command(_RELEASES, "clear the canary; with none, undo the last promotion"),
    "history": Command(_RELEASES, "the release history"),
    "rollout": Command(
        _RELEASES, "run a rollout plan through the release state machine and follow it"
    ),
    "shadow": Command(
        "modelship.cli.commands.shadow",
        "mirror a sample of live requests to a release that answers no one; its report",
    ),
    "status": Command(
        "modelship.cli.commands.status",
        "stable, candidate and its last verdict, alarms, rollouts running or failed in 24 h",
    ),
    "dashboard": Command(
        "modelship.cli.commands.dashboard",
        "the address of a model's dashboard: the CloudWatch console, or the emulator's page",
    ),
    "retrain": Command("modelship.cli.commands.retraining", "start the retraining state machine"),
    "local": Command("modelship.cli.commands.local", "the local emulator: AWS on this machine"),
}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 with a usage banner; here a bad command line is one more failure."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `modelship` parser with the full options of `command` (and of the other commands
    its module registers); every other command is there by name and summary only, enough for
    `--help` and for argparse's "invalid choice"."""
    parser = _Parser(prog="modelship", description="Ship scikit-learn models to AWS Lambda safely.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = COMMANDS[command].module if command in COMMANDS else None
    registered = False
    for name, (module, summary) in COMMANDS.items():
        if module != wanted:
            subparsers.add_parser(name, help=summary)
        elif not registered:
            importlib.import_module(module).register(subparsers)
            registered = True
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    output = _requested_output(arguments)
    try:
        args = build_parser(_command_named(arguments)).parse_args(arguments)
        output = args.output if hasattr(args, "output") else output
        result = args.run(args)
        if result is not None:
            _emit(args, result)
            sys.stdout.flush()
            # A command that printed its answer can still fail in part (a status table with
            # a model it could not read).
            return int(result.get("exit_code", 0))
    except BrokenPipeError:
        return _reader_gone()
    except Exception as exc:
        from modelship.cli.errors import failure_of, report  # botocore: only once something failed

        failure = failure_of(exc)
        if failure is None:
            raise
        report(failure, output)
        return 1
    return 0


def _command_named(arguments: Sequence[str]) -> str | None:
    """The command argparse will choose: the first argument that is not an option (no
    top-level option takes a value)."""
    return next((argument for argument in arguments if not argument.startswith("-")), None)


def _requested_output(arguments: list[str]) -> str:
    """`--output` as given, for failures found before the command line is parsed."""
    for index, argument in enumerate(arguments):
        if argument == "--output" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--output="):
            return argument.partition("=")[2]
    return "text"


def _reader_gone() -> int:
    """`modelship history | head`: the reader closed the pipe. Later writes (and the flush
    at exit) go nowhere instead of raising again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file descriptor (e.g. under test capture)
    return 1


def _emit(args: argparse.Namespace, result: Any) -> None:
    if args.output == "json":
        print(json.dumps(result.get("json", result), indent=2, default=str))
    else:
        print(result.get("text", json.dumps(result, indent=2, default=str)))
