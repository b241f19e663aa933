"""`make bench`: runs every figure and writes docs/performance.md.

    .venv/bin/python -m tests.benchmarks.run [--quick] [--out docs/performance.md]
    .venv/bin/python -m tests.benchmarks.run --only cold|batch [--quick]

--quick cuts repetitions for a smoke run of the benchmark code itself; its numbers are not
worth publishing. --only cold runs the cold starts alone and prints their medians; --only
batch measures the batch figure alone (reference model only) and prints its section. Either
leaves docs/performance.md as it is: only a whole run writes it.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from modelship.local.handler_runner import REPO_ROOT
from tests.benchmarks.capture import measure_capture
from tests.benchmarks.cold_start import ColdStartBench, describe, traced_section, traced_target
from tests.benchmarks.csv_ingest import measure_csv_ingest
from tests.benchmarks.dataframe import build_dataframe_model, measure_dataframe
from tests.benchmarks.drift_quality import measure_drift_quality
from tests.benchmarks.hostile import measure_hostile
from tests.benchmarks.judge_quality import measure_judge_quality
from tests.benchmarks.machine import describe_machine
from tests.benchmarks.models import build_models, build_reference_model, moto_s3
from tests.benchmarks.package import (
    function_code_size,
    function_compile_seconds,
    import_figures,
    layer_sizes,
)
from tests.benchmarks.report import Results, batch_tables, render, verdicts
from tests.benchmarks.rollback import RollbackReaction, measure_rollback
from tests.benchmarks.shadow import measure_shadow
from tests.benchmarks.warm import measure_batches, measure_warm

WORKDIR = Path("/tmp/bench-work/run")
LATENCY_CALLS = 3000
CAPTURE_CALLS = 1000
SHADOW_CALLS = 1000


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def _isolate_from_aws() -> None:
    """No figure may touch a real account, whatever the shell has configured."""
    for key in [k for k in os.environ if k.startswith(("AWS_", "MODEL_", "POWERTOOLS_"))]:
        del os.environ[key]
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
    )
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


def _rollback_figure(model_dir: Path, runs: int) -> tuple[RollbackReaction | None, str | None]:
    cdk_out = REPO_ROOT / "cdk.out"
    if not any(cdk_out.glob("*.template.json")):
        return None, "no cdk.out: run `make synth` (make bench does) first"
    _progress(f"rollback reaction on the local emulator, {runs} broken canaries")
    return measure_rollback(WORKDIR / "rollback", model_dir, cdk_out, runs), None


def _cold_only(repetitions: int) -> int:
    _isolate_from_aws()
    # Its own directory: a whole run elsewhere on the machine empties WORKDIR when it starts.
    workdir = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    _progress("training the reference and the large model")
    models = build_models(workdir)
    with moto_s3(models) as endpoint:
        _progress(f"cold starts, {repetitions} per configuration")
        cold = ColdStartBench(workdir, endpoint).measure(models, repetitions)
    print(describe(cold))
    print(traced_section(cold))
    judged = traced_target(cold)
    if judged is not None:
        print(f"\ntarget ({judged[0]}): {judged[1]}: {'met' if judged[2] else 'MISSED'}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


def _batch_only(scale: float) -> int:
    """The batch figure alone, printed as its section's tables."""
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    _progress("training the reference model")
    model = build_reference_model(WORKDIR)
    with moto_s3([model]) as endpoint:
        _progress("batch throughput")
        batches = measure_batches(endpoint, model, WORKDIR / "warm-cache", scale)
    print(describe_machine().line())
    print(batch_tables(batches.figures, batches.stages, batches.column_stages))
    shutil.rmtree(WORKDIR, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions, smoke run only")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "performance.md")
    parser.add_argument(
        "--only",
        choices=["cold", "batch"],
        help="measure one figure and print it (docs/performance.md is left as it is)",
    )
    args = parser.parse_args(argv)
    scale = 0.1 if args.quick else 1.0
    repetitions = 2 if args.quick else 5
    if args.only == "cold":
        return _cold_only(repetitions)

    _isolate_from_aws()
    if args.only == "batch":
        return _batch_only(scale)
    started_at, started = datetime.now(UTC), time.monotonic()
    machine = describe_machine()
    shutil.rmtree(WORKDIR, ignore_errors=True)
    WORKDIR.mkdir(parents=True)
    _progress("training the reference and the large model")
    models = build_models(WORKDIR)
    _progress("packaging the example's DataFrame pipeline (examples/churn_pipeline.py)")
    frame_model, frame_row = build_dataframe_model(WORKDIR)
    with moto_s3([*models, frame_model]) as endpoint:
        _progress("warm latency and batch throughput")
        warm = measure_warm(
            endpoint, models[0], WORKDIR / "warm-cache", int(LATENCY_CALLS * scale), scale
        )
        _progress("worst-case hostile bodies")
        hostile = measure_hostile(endpoint, models[0], WORKDIR / "hostile-cache")
        _progress("warm latency of the DataFrame model")
        dataframe, dataframe_stages = measure_dataframe(
            endpoint,
            frame_model,
            frame_row,
            WORKDIR / "dataframe-cache",
            int(LATENCY_CALLS * scale),
        )
        _progress("warm latency with data capture off, working, failing and slow")
        capture = measure_capture(
            endpoint, models[0], WORKDIR / "capture-cache", int(CAPTURE_CALLS * scale)
        )
        _progress("warm latency of the stable version with no shadow, and a shadow at 20%")
        shadow = measure_shadow(
            endpoint, models[0], WORKDIR / "shadow-cache", int(SHADOW_CALLS * scale)
        )
        _progress(f"cold starts, {repetitions} per configuration")
        cold = ColdStartBench(WORKDIR, endpoint).measure(models, repetitions)
    rollback, rollback_error = _rollback_figure(models[0].directory, repetitions)
    _progress("package sizes and import times")
    imports, tracer_error = import_figures(WORKDIR, repetitions)
    _progress("CSV ingestion memory")
    csv_ingest = measure_csv_ingest(WORKDIR / "csv", (5, 20) if args.quick else (25, 100))
    _progress("drift detector quality over windows of the reference dataset")
    drift_quality = measure_drift_quality(quick=args.quick)
    _progress("canary judge quality over simulated canaries")
    judge_quality = measure_judge_quality(quick=args.quick)
    results = Results(
        machine=machine,
        started_at=started_at,
        seconds=time.monotonic() - started,
        load_average_end=" ".join(Path("/proc/loadavg").read_text().split()[:3]),
        models=models,
        warm=warm,
        cold=cold,
        sizes=layer_sizes(),
        function_size=function_code_size(),
        imports=imports,
        tracer_error=tracer_error,
        function_compile_seconds=function_compile_seconds(repetitions),
        repetitions=repetitions,
        rollback=rollback,
        rollback_error=rollback_error,
        csv_ingest=csv_ingest,
        hostile=hostile,
        dataframe=dataframe,
        dataframe_stages=dataframe_stages,
        drift_quality=drift_quality,
        dataframe_model=frame_model,
        capture=capture,
        judge_quality=judge_quality,
        shadow=shadow,
    )
    args.out.write_text(render(results, args.out.read_text() if args.out.exists() else ""))
    for verdict in verdicts(results):
        status = "met" if verdict.met else "MISSED"
        _progress(f"{verdict.figure}: {status}: {verdict.measured}")
    _progress(f"wrote {args.out} in {results.seconds / 60:.1f} minutes")
    shutil.rmtree(WORKDIR, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
