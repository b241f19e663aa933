"""Options several commands share and how their values are read. Standard library only, so
registering a command imports nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from modelship.errors import CommandFailed

# Where `modelship local up` keeps a running emulator's state (read by `local` and `dashboard`).
DEFAULT_STATE_DIR = Path(".modelship/local")
# Read by `retrain` (the machine it starts) and by `status` (its runs canary a challenger).
ENV_RETRAIN_STATE_MACHINE = "MODELSHIP_RETRAIN_STATE_MACHINE"


def output_option() -> argparse.ArgumentParser:
    """The `--output` every command takes, as a parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--output", choices=("text", "json"), default="text", help="output format (default text)"
    )
    return common


def parse_params(pairs: list[str]) -> dict[str, float | int | str | bool | None]:
    """Repeated `--param KEY=VALUE` as hyperparameters, each value read as a scalar."""
    params: dict[str, float | int | str | bool | None] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise CommandFailed(f"--param {pair!r} is not KEY=VALUE")
        params[key.strip()] = _parse_scalar(raw.strip())
    return params


def _parse_scalar(raw: str) -> float | int | str | bool | None:
    lowered = raw.lower()
    if lowered in {"none", "null"}:
        return None
    if lowered in {"true", "false"}:
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


def description_options() -> argparse.ArgumentParser:
    """What the model card says of a model: `--summary`, `--intended-use`, `--owner` and
    repeatable `--limitation`, as a parent parser (`train`, `models package`)."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("model card")
    group.add_argument("--summary", help="one paragraph: what the model is (model card)")
    group.add_argument(
        "--intended-use", help="what the model is for, and what it is not for (model card)"
    )
    group.add_argument("--owner", help="who answers for the model: a team or a person")
    group.add_argument(
        "--limitation",
        dest="limitations",
        action="append",
        default=[],
        metavar="TEXT",
        help="a known limitation, in addition to the ones the card derives (repeatable)",
    )
    return options


def description_of(args: argparse.Namespace) -> Any:
    """The ModelDescription the description options give (None when none is given)."""
    from modelship.registry.manifest import ModelDescription

    return ModelDescription.of(
        summary=args.summary,
        intended_use=args.intended_use,
        owner=args.owner,
        limitations=tuple(args.limitations),
    )
