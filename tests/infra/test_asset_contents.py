"""What each Lambda code asset ships: its handler directory and the modelship modules it
imports, nothing else. No asset carries the IAM evaluator: @cloud-copilot/iam-simulate is
AGPL and runs only as a development-time Node process (modelship/local/iam/evaluator.mjs)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra_cdk.function_source import (
    library_closure,
    stage_predict_source,
    stage_release_source,
    stage_retraining_source,
)
from modelship import names

STAGES: dict[str, Callable[[], Path]] = {
    "predict": stage_predict_source,
    "release": stage_release_source,
    "retraining": stage_retraining_source,
}
# Entry points of each asset, as the template's Handler settings name them.
HANDLERS = {
    "predict": [names.PREDICT_HANDLER],
    "release": [names.RELEASE_HANDLER, names.ROLLBACK_HANDLER],
    "retraining": [
        "functions.retraining.app.prepare",
        "functions.retraining.trigger.lambda_handler",
    ],
}
NOT_SERVING = ("cli", "local", "retraining", "training", "releases")


def _files(staging: Path) -> list[str]:
    return sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())


@pytest.mark.parametrize("asset", sorted(STAGES))
def test_no_asset_holds_the_evaluator_or_node_modules(asset: str) -> None:
    files = _files(STAGES[asset]())
    assert files, "the asset is empty"
    assert not [f for f in files if f.endswith((".mjs", ".js"))]
    assert not [f for f in files if "node_modules" in f.split("/")]


def test_the_predict_asset_ships_only_what_serving_imports() -> None:
    files = _files(stage_predict_source())

    for package in NOT_SERVING:
        assert not [f for f in files if f.startswith(f"modelship/{package}/")], package
    assert "modelship/serving/service.py" in files
    assert "modelship/registry/manifest.py" in files
    # Every package on the way keeps its __init__.py, so imports resolve as in the repo.
    for file in files:
        parent = Path(file).parent
        while parent != Path("."):
            assert (parent / "__init__.py").as_posix() in files, file
            parent = parent.parent


def test_no_asset_ships_the_cli_or_the_emulator() -> None:
    for asset, stage in STAGES.items():
        files = _files(stage())
        shipped = [f for f in files if f.startswith(("modelship/cli/", "modelship/local/"))]
        assert not shipped, asset


def test_function_level_and_relative_imports_are_followed(tmp_path: Path) -> None:
    (tmp_path / "modelship" / "pkg").mkdir(parents=True)
    for init in ("modelship/__init__.py", "modelship/pkg/__init__.py"):
        (tmp_path / init).write_text("")
    (tmp_path / "modelship" / "pkg" / "a.py").write_text("from . import b\n")
    (tmp_path / "modelship" / "pkg" / "b.py").write_text(
        "def later():\n    from modelship.pkg.c import thing\n"
    )
    (tmp_path / "modelship" / "pkg" / "c.py").write_text("thing = 1\n")
    (tmp_path / "modelship" / "unused.py").write_text("")
    entry = tmp_path / "handler.py"
    entry.write_text("import modelship.pkg.a\n")

    closure = [p.as_posix() for p in library_closure([entry], tmp_path)]

    assert closure == [
        "modelship/__init__.py",
        "modelship/pkg/__init__.py",
        "modelship/pkg/a.py",
        "modelship/pkg/b.py",
        "modelship/pkg/c.py",
    ]


def _environment(template: Template, handler: str) -> dict[str, str]:
    """The function's environment as deployed; references become placeholders."""
    (function,) = [
        f
        for f in template.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]["Handler"] == handler
    ]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return {k: v if isinstance(v, str) else "placeholder" for k, v in variables.items()}


@pytest.mark.parametrize("asset", sorted(STAGES))
def test_handlers_import_from_their_staged_asset_alone(
    asset: str, template: Template, tmp_path: Path
) -> None:
    """Only the staged directory and the installed dependencies on the path (no site: the
    editable install's .pth would put the repository back)."""
    staging = STAGES[asset]()
    site_packages = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    modules = sorted({handler.rsplit(".", 1)[0] for handler in HANDLERS[asset]})
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join([str(staging), *sorted(site_packages)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for handler in HANDLERS[asset]:
        environment.update(_environment(template, handler))
    probe = (
        "import importlib, json, sys\n"
        f"for module in {modules!r}:\n"
        "    importlib.import_module(module)\n"
        "print(json.dumps({'file': sys.modules['modelship'].__file__,"
        " 'loaded': sorted(m for m in sys.modules if m.split('.')[0] == 'modelship')}))\n"
    )

    result = subprocess.run(
        [sys.executable, "-S", "-c", probe],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(imported["file"]).is_relative_to(staging)
    assert not [m for m in imported["loaded"] if m.startswith(("modelship.cli", "modelship.local"))]
