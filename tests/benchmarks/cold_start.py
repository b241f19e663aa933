"""Cold starts in fresh processes against a moto S3 server on loopback, plus peak memory.

Every process gets the same bytecode cache (PYTHONPYCACHEPREFIX, primed once), as a layer
with precompiled bytecode would give it, so the figures compare loading strategies rather than
compilation. Configurations are interleaved repetition by repetition so machine drift hits
them all alike.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import REPO_ROOT
from modelship.names import PREDICT_HANDLER
from modelship.registry.registry import artifact_key
from modelship.sample_events import load_event
from tests.benchmarks.models import BUCKET, BenchModel, function_environment
from tests.benchmarks.stats import Summary, summarize

PROBE = Path(__file__).with_name("cold_probe.py")
PHASES = ("interpreter", "imports", "init", "fetch", "load", "first_response")
# Predictions after the first before peak RSS is read: a warm, steady process.
EXTRA_PREDICTIONS = 20
# Tracing on as on Lambda (reference model, warm /tmp): the handler as it was, Powertools'
# Tracer() built at init, against modelship.serving.tracing's tracer built on the first
# sampled invocation; (configuration, tracer, first invocation sampled).
TRACED = (
    ("traced, eager Tracer at init (before)", "eager", True),
    ("traced, lazy tracer, first invocation sampled (after)", "lazy", True),
    ("traced, lazy tracer, first invocation unsampled (after)", "lazy", False),
)
UNTRACED = "handler, warm /tmp"


@dataclass(frozen=True)
class ColdRun:
    phases: dict[str, float]
    total: float
    maxrss_mb: float
    source: str | None


@dataclass(frozen=True)
class ColdFigure:
    model: str
    configuration: str
    runs: list[ColdRun]

    @property
    def total(self) -> Summary:
        return summarize([run.total for run in self.runs])

    def phase(self, name: str) -> Summary | None:
        values = [run.phases[name] for run in self.runs if name in run.phases]
        return summarize(values) if values else None

    @property
    def maxrss(self) -> Summary:
        return summarize([run.maxrss_mb for run in self.runs])


def handler_imports(handler: str = PREDICT_HANDLER) -> list[str]:
    """The modules the handler's file imports, in order: what any cold start pays for."""
    source = REPO_ROOT / (handler.rpartition(".")[0].replace(".", "/") + ".py")
    modules: list[str] = []
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return list(dict.fromkeys(modules))


class ColdStartBench:
    def __init__(self, workdir: Path, endpoint: str) -> None:
        self.workdir = workdir / "cold"
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir.mkdir(parents=True)
        self.endpoint = endpoint
        self.pycache = self.workdir / "pycache"
        self.imports = handler_imports()
        self.event = load_event("predict_valid")
        self._runs = 0
        # Stands in for Lambda's X-Ray daemon: counts the segments a traced process sends.
        self.daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.daemon.bind(("127.0.0.1", 0))
        self.daemon.setblocking(False)

    def _environment(
        self, model: BenchModel, cache_dir: Path, write_bytecode: bool, traced: bool = False
    ) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "MODEL_", "POWERTOOLS_", "PYTHON", "LAMBDA_", "_X_"))
        }
        env.update(function_environment(self.endpoint, model, cache_dir))
        env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if not write_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        if traced:
            # What Lambda sets with active tracing on; Powertools and the X-Ray SDK take
            # LAMBDA_TASK_ROOT as "in Lambda". AWS_LAMBDA_FUNCTION_NAME stays unset: it would
            # switch the shadow mirror on, which is not what is compared.
            del env["POWERTOOLS_TRACE_DISABLED"]
            env["LAMBDA_TASK_ROOT"] = str(self.workdir)
            env["AWS_XRAY_DAEMON_ADDRESS"] = f"127.0.0.1:{self.daemon.getsockname()[1]}"
            env["AWS_XRAY_CONTEXT_MISSING"] = "LOG_ERROR"
        return env

    def _segments_received(self) -> int:
        count = 0
        while True:
            try:
                self.daemon.recv(65536)
            except BlockingIOError:
                return count
            count += 1

    def run(
        self,
        mode: str,
        model: BenchModel,
        cache_dir: Path,
        modules: list[str] | None = None,
        write_bytecode: bool = False,
        tracer: str | None = None,
        sampled: bool = True,
    ) -> tuple[ColdRun, dict[str, Any]]:
        """tracer: None for tracing off (as locally); "eager" or "lazy" for tracing on as on
        Lambda, each invocation with its own trace header, sampled or not."""
        self._runs += 1
        result_file = self.workdir / f"result-{self._runs}.json"
        config = {
            "mode": mode,
            "modules": self.imports if modules is None else modules,
            "handler": PREDICT_HANDLER,
            "repo_root": str(REPO_ROOT),
            "event": self.event,
            "extra_predictions": EXTRA_PREDICTIONS,
            "bucket": BUCKET,
            "key": artifact_key(model.manifest.name, model.manifest.version),
            "features": model.manifest.feature_names,
            "result_file": str(result_file),
            "tracer": tracer,
            "trace_sampled": sampled,
        }
        self._segments_received()
        spawned = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "-P", str(PROBE), json.dumps(config)],
            env=self._environment(model, cache_dir, write_bytecode, traced=tracer is not None),
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
            check=False,
        )
        if completed.returncode != 0 or not result_file.is_file():
            raise RuntimeError(f"cold start probe ({mode}) failed:\n{completed.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(result_file.read_text())
        result_file.unlink()
        result["segments"] = self._segments_received()
        if tracer and (result["segments"] > 0) != sampled:
            raise RuntimeError(f"{tracer} tracer, sampled={sampled}: {result['segments']} segments")
        return self._phases(result, spawned), result

    @staticmethod
    def _phases(result: dict[str, Any], spawned: float) -> ColdRun:
        marks = result["marks"]
        phases = {
            "interpreter": marks["start"] - spawned,
            "imports": marks["imports"] - marks["start"],
        }
        end = marks["imports"]
        if "init" in marks:
            fetch_load = result["fetch_load_seconds"]
            phases["init"] = marks["init"] - marks["imports"] - fetch_load
            phases["fetch"] = fetch_load - result["load_seconds"]
            phases["load"] = result["load_seconds"]
            phases["first_response"] = marks["first_response"] - marks["init"]
            end = marks["first_response"]
        return ColdRun(
            phases=phases,
            total=end - spawned,
            maxrss_mb=result["maxrss_kb"] / 1024.0,
            source=result.get("source"),
        )

    def measure(self, models: list[BenchModel], repetitions: int) -> list[ColdFigure]:
        """Per model: handler with an empty and a warm /tmp cache, the naive loader and the
        import floor; plus the floor of the handler file's own imports."""
        floors: dict[str, list[str]] = {}
        warm_dirs: dict[str, Path] = {}
        for model in models:
            # Priming: writes bytecode, fills the warm cache, and lists every module a process
            # that has served a prediction holds (the floor imports exactly those).
            warm_dirs[model.label] = self.workdir / "tmp-warm" / model.label
            _, result = self.run("handler", model, warm_dirs[model.label], write_bytecode=True)
            floors[model.label] = result["modules"]
            self.run("naive", model, self.workdir / "unused", write_bytecode=True)
        runs: dict[tuple[str, str], list[ColdRun]] = {}
        for repetition in range(repetitions):
            for model in models:
                empty = self.workdir / "tmp-empty" / f"{model.label}-{repetition}"
                configurations: list[tuple[str, str, Path, list[str] | None]] = [
                    ("handler, empty /tmp", "handler", empty, None),
                    ("handler, warm /tmp", "handler", warm_dirs[model.label], None),
                    ("naive loader", "naive", empty, None),
                    ("import floor", "floor", empty, floors[model.label]),
                ]
                for name, mode, cache_dir, modules in configurations:
                    run, _ = self.run(mode, model, cache_dir, modules)
                    expected = {"handler, empty /tmp": "s3", "handler, warm /tmp": "tmp"}
                    if name in expected and run.source != expected[name]:
                        raise RuntimeError(f"{name}: model came from {run.source}")
                    runs.setdefault((model.label, name), []).append(run)
                shutil.rmtree(empty, ignore_errors=True)
            for name, tracer, sampled in TRACED:
                model = models[0]
                run, _ = self.run(
                    "handler", model, warm_dirs[model.label], tracer=tracer, sampled=sampled
                )
                runs.setdefault((model.label, name), []).append(run)
            run, _ = self.run("floor", models[0], self.workdir / "unused")
            runs.setdefault(("any", "handler file's imports only"), []).append(run)
        return [ColdFigure(model, name, values) for (model, name), values in runs.items()]


def describe(figures: list[ColdFigure]) -> str:
    """The figures as text lines (medians in seconds), for a run of the cold starts alone."""
    lines = []
    for figure in figures:
        phases = "  ".join(
            f"{p}={summary.p50:.3f}" for p in PHASES if (summary := figure.phase(p)) is not None
        )
        lines.append(
            f"{figure.model:10s} {figure.configuration:56s} total={figure.total.p50:.3f}  "
            f"{phases}  rss={figure.maxrss.p50:.0f}MB"
        )
    return "\n".join(lines)


def _after_imports(figure: ColdFigure) -> Summary:
    """Init, fetch, load and first response: what tracing changes. The imports are the same
    in every configuration and the noisiest phase on a busy machine."""
    return summarize(
        [run.total - run.phases["interpreter"] - run.phases["imports"] for run in figure.runs]
    )


def _traced(figures: list[ColdFigure]) -> list[ColdFigure]:
    """The untraced warm-/tmp start of the traced model, then the TRACED configurations."""
    traced = [f for name, _, _ in TRACED for f in figures if f.configuration == name]
    if len(traced) != len(TRACED):
        return []
    untraced = [f for f in figures if (f.model, f.configuration) == (traced[0].model, UNTRACED)]
    return untraced + traced


def traced_target(figures: list[ColdFigure]) -> tuple[str, str, bool] | None:
    """(target, measured, met) of the cold start with tracing on, after against before."""
    traced = _traced(figures)
    if len(traced) != 1 + len(TRACED):
        return None
    _, before, sampled, unsampled = (_after_imports(f).p50 for f in traced)
    return (
        "tracing on as on Lambda (reference, warm /tmp): init to first response below the "
        "eager Tracer's",
        f"{sampled:.3f} s sampled, {unsampled:.3f} s unsampled, against {before:.3f} s "
        f"({sampled - before:+.3f} s, {unsampled - before:+.3f} s)",
        sampled < before and unsampled < before,
    )


def traced_section(figures: list[ColdFigure]) -> str:
    """Tracing on as on Lambda: before (Tracer() at init) against after (lazy tracer)."""
    traced = _traced(figures)
    if len(traced) != 1 + len(TRACED):
        return ""
    before = traced[1]

    def row(figure: ColdFigure) -> str:
        cells = [
            figure.configuration,
            _text(figure.phase("init")),
            _text(figure.phase("first_response")),
            f"**{_text(_after_imports(figure))}**",
            f"{_after_imports(figure).p50 - _after_imports(before).p50:+.3f}",
            _text(figure.total),
        ]
        return "| " + " | ".join(cells) + " |"

    header = (
        "| configuration | init s | first response s | init to first response s | "
        "change against before s | total s |\n|---|---|---|---|---|---|"
    )
    return (
        f"\n### {before.model}, tracing on as on Lambda\n\n"
        "LAMBDA_TASK_ROOT set and POWERTOOLS_TRACE_DISABLED unset, as in the function with active "
        "tracing; segments go to a UDP socket standing in for the X-Ray daemon (the run fails "
        "if a sampled configuration sends none or an unsampled one sends any). Before: the "
        "handler as it was, `Tracer()` at init (X-Ray SDK imported, every library it supports "
        "patched). After: `modelship.serving.tracing`, the SDK loaded on the first sampled "
        "invocation with botocore patched alone. Each invocation gets its own trace header; "
        "warm /tmp. Tracing off (first row) is the local configuration above.\n\n"
        + header
        + "\n"
        + "\n".join(row(f) for f in traced)
    )


def _text(summary: Summary | None) -> str:
    if summary is None:
        return "-"
    return f"{summary.p50:.3f} ({summary.q1:.3f}-{summary.q3:.3f})"
