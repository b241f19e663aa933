"""Deployment package size against Lambda's 250 MB limit, and what bytecode buys at import.

Sizes come from what `make layer` built in layers/build/ and from the files the CDK app
stages for the predict function (infra_cdk/function_source.py: functions/predict/ and the
modelship modules it imports).
Import times: the handler file's imports in a fresh process, from a copy of the layer's
distributions as installed in the host venv (same Python, same tree) without and then with
bytecode, and from the built layer itself when it matches this machine.
"""

from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

from infra_cdk.function_source import stage_predict_source
from modelship.local.handler_runner import REPO_ROOT
from tests.benchmarks.cold_start import PROBE, handler_imports
from tests.benchmarks.stats import Summary, summarize

LAYER_BUILD = REPO_ROOT / "layers" / "build"
LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "requirements.txt"
# Lambda: function code plus all layers, unzipped, at most 250 MB (262,144,000 bytes).
LAMBDA_UNZIPPED_LIMIT = 262_144_000
MACHINE_OF_ARCH = {"x86_64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class PackageSize:
    name: str
    unzipped_bytes: int
    zipped_bytes: int
    files: int
    bytecode_files: int


@dataclass(frozen=True)
class ImportFigure:
    label: str
    python: str
    seconds: Summary | None
    note: str = ""


def _tree_bytes(root: Path) -> tuple[int, int, int]:
    total = files = bytecode = 0
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            total += path.stat().st_size
            files += 1
            bytecode += path.suffix == ".pyc"
    return total, files, bytecode


def layer_sizes() -> list[PackageSize]:
    sizes = []
    for build in sorted(LAYER_BUILD.glob("*/layer.zip")):
        unzipped, files, bytecode = _tree_bytes(build.parent / "python")
        sizes.append(
            PackageSize(
                f"layer {build.parent.name}", unzipped, build.stat().st_size, files, bytecode
            )
        )
    return sizes


def function_code_files() -> tuple[Path, list[Path]]:
    """The predict function's code as the CDK app stages it, and its files."""
    staging = stage_predict_source()
    return staging, sorted(path for path in staging.rglob("*") if path.is_file())


def function_code_size() -> PackageSize:
    staging, files = function_code_files()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files:
            archive.write(path, path.relative_to(staging))
    unzipped = sum(path.stat().st_size for path in files)
    return PackageSize("predict function code", unzipped, len(buffer.getvalue()), len(files), 0)


def function_compile_seconds(repetitions: int) -> float:
    """Median time to compile the function code's Python files, as a cold start must."""
    _, files = function_code_files()
    sources = [(path, path.read_text()) for path in files if path.suffix == ".py"]

    def compile_all() -> None:
        for path, text in sources:
            compile(text, str(path), "exec", dont_inherit=True)

    times = []
    for _ in range(repetitions):
        started = time.perf_counter()
        compile_all()
        times.append(time.perf_counter() - started)
    return summarize(times).p50


def _layer_distributions() -> list[str]:
    names = []
    for line in LAYER_REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(re.split(r"[\[=<>~ ]", line, maxsplit=1)[0])
    return names


def copy_layer_sources(target: Path) -> Path:
    """The layer's distributions as installed in this venv, sources only."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in _layer_distributions():
        dist = distribution(name)
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            destination = target / file
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    return target


def copy_function_code(target: Path) -> Path:
    """The predict function's code as staged for Lambda: sources only, never compiled here."""
    shutil.rmtree(target, ignore_errors=True)
    staging, _ = function_code_files()
    shutil.copytree(staging, target)
    return target


def _time_imports(
    python: str, site: Path, code: Path, workdir: Path, repetitions: int
) -> tuple[list[float], dict[str, Any]]:
    """Seconds from spawn to the handler's imports done, per run; and the last probe result."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update({"PYTHONPATH": f"{site}{os.pathsep}{code}", "PYTHONDONTWRITEBYTECODE": "1"})
    result_file = workdir / "import-result.json"
    seconds = []
    result: dict[str, Any] = {}
    for _ in range(repetitions):
        config = {
            "mode": "floor",
            "modules": handler_imports(),
            "result_file": str(result_file),
            "check_tracer": True,
        }
        spawned = time.monotonic()
        completed = subprocess.run(
            # -S: no site-packages but the tree under test; -P: nothing from the probe's folder.
            [python, "-S", "-P", str(PROBE), json.dumps(config)],
            env=env,
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"import probe failed:\n{completed.stderr[-3000:]}")
        result = json.loads(result_file.read_text())
        seconds.append(result["marks"]["imports"] - spawned)
    return seconds, result


def _python_of(version: str) -> str | None:
    """An interpreter of `version` (3.12, say): PATH, then pyenv, as build_layer.sh looks."""
    candidates = [shutil.which(f"python{version}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates.extend(str(p) for p in sorted(pyenv_root.glob(f"versions/{version}.*/bin/python*")))
    for candidate in filter(None, candidates):
        try:
            found = subprocess.run(
                [
                    candidate,
                    "-c",
                    "import sys; print(sys.executable, '%d.%d' % sys.version_info[:2])",
                ],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout.split()
        except OSError:
            continue
        if len(found) == 2 and found[1] == version:
            return found[0]
    return None


def import_figures(workdir: Path, repetitions: int) -> tuple[list[ImportFigure], str | None]:
    """Import times without and with bytecode; the second value is the built layer's Tracer
    init error, if constructing one fails there."""
    host_python = f"{platform.python_version()} ({sys.executable})"
    site = copy_layer_sources(workdir / "layer-sources")
    code = copy_function_code(workdir / "function-code")
    without, _ = _time_imports(sys.executable, site, code, workdir, repetitions)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(site)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
    )
    with_bytecode, _ = _time_imports(sys.executable, site, code, workdir, repetitions)
    figures = [
        ImportFigure("layer packages, sources only (no bytecode)", host_python, summarize(without)),
        ImportFigure("layer packages, precompiled bytecode", host_python, summarize(with_bytecode)),
    ]
    tracer_error = None
    for build in sorted(LAYER_BUILD.glob("*/layer.zip")):
        runtime, _, arch = build.parent.name.partition("-")
        label = f"built layer {build.parent.name}, as shipped"
        if MACHINE_OF_ARCH.get(arch) != platform.machine():
            figures.append(
                ImportFigure(
                    label, "", None, f"not measured: {arch} layer on a {platform.machine()} host"
                )
            )
            continue
        python = _python_of(runtime.removeprefix("python"))
        if python is None:
            figures.append(
                ImportFigure(label, "", None, f"not measured: no {runtime} interpreter found")
            )
            continue
        seconds, result = _time_imports(python, build.parent / "python", code, workdir, repetitions)
        tracer_error = result.get("tracer_error")
        version = runtime.removeprefix("python")
        figures.append(ImportFigure(label, f"{version} ({python})", summarize(seconds)))
    return figures, tracer_error
