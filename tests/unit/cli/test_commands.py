"""The CLI's plumbing: COMMANDS names every command by the dotted path of its module, and a
command line imports only the command module it runs (and no AWS or domain code to list the
commands)."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelship.cli.main import COMMANDS, build_parser

COMMAND_MODULES = "modelship.cli.commands."
HEAVY = ("boto3", "sklearn", "modelship.releases", "modelship.retraining", "modelship.local")


def imported_by(code: str, tmp_path: Path) -> set[str]:
    """The modules a fresh interpreter has imported after running `code`."""
    script = (
        "import json, sys\n"
        "try:\n"
        f"    {code}\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    return set(json.loads(finished.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] == "boto3" or m.startswith(HEAVY))


def command_modules(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith(COMMAND_MODULES)}


def test_building_the_parser_and_listing_the_commands_import_no_aws_or_domain_code(
    tmp_path: Path,
) -> None:
    built = imported_by("from modelship.cli.main import build_parser; build_parser()", tmp_path)
    listed = imported_by("from modelship.cli import main; main(['--help'])", tmp_path)

    for modules in (built, listed):
        assert heavy(modules) == []
        assert command_modules(modules) == set()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_command_imports_only_its_own_command_module(name: str, tmp_path: Path) -> None:
    modules = imported_by(f"from modelship.cli import main; main([{name!r}, '--help'])", tmp_path)

    assert command_modules(modules) == {COMMANDS[name].module}
    assert heavy(modules) == []  # a command module imports its domain inside its handlers


def test_running_a_command_imports_its_domain_and_no_other_command_module(
    tmp_path: Path,
) -> None:
    modules = imported_by(
        "from modelship.cli import main; main(['retrain', '--state-machine', ''])", tmp_path
    )

    assert command_modules(modules) == {COMMANDS["retrain"].module}
    assert "boto3" in modules


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_resolves_to_a_module_that_registers_it_as_listed(name: str) -> None:
    module = importlib.import_module(COMMANDS[name].module)
    assert callable(module.register)

    # The table's names, order and summaries are what the modules' register() give.
    assert build_parser(name).format_help() == build_parser().format_help()
    # ... and the command really is the module's, not the name-only entry.
    assert help_of(build_parser(name), name) != help_of(build_parser(), name)


def help_of(parser: argparse.ArgumentParser, name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        parser.parse_args([name, "--help"])
    return out.getvalue()


def test_python_dash_m_modelship_reports_a_failure_as_the_cli_does(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "modelship", "models", "list", "--output", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={
            k: v
            for k, v in os.environ.items()
            if k not in {"MODELSHIP_BUCKET", "MODEL_BUCKET", "MODELSHIP_STACK"}
        },
    )

    assert finished.returncode == 1
    assert json.loads(finished.stderr) == {
        "error": {
            "reason": "usage",
            "message": "--bucket is required (or set MODELSHIP_BUCKET), or --stack (or "
            "MODELSHIP_STACK) for the bucket of a deployment",
        }
    }
