"""Worst-case request bodies through the warm predict handler: time and peak memory each.

Each body is as large as the default body limit allows (5 MiB) and built to make one part of
the request path work hardest: repeated keys (the pydantic error per key), many small
containers (the JSON parser's values), deep nesting, one huge string, values the model's
scaler overflows in every row (the search for the offending field), a base64 body, and the
largest body the field budget still lets through to the parser. The largest valid request
is measured beside them for scale.

Each request runs in a child forked from the warm process, so one body's garbage cannot
hide the next one's memory. Memory is the rise of the child's peak RSS (VmHWM, reset through
/proc/self/clear_refs) over its RSS before the request; tracemalloc would miss what
pydantic-core allocates in Rust.

    .venv/bin/python -m tests.benchmarks.hostile   # prints the table on its own
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.errors import PayloadTooLarge
from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.names import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS, PREDICT_HANDLER
from modelship.sample_events import http_api_event
from modelship.training.churn import generate_churn
from tests.benchmarks.models import BenchModel, function_environment
from tests.benchmarks.stats import summarize
from tests.benchmarks.warm import QUIET

MIB = 1024 * 1024
REPEATS = 3


@dataclass(frozen=True)
class HostileFigure:
    label: str
    body_bytes: int
    status: int
    code: str
    seconds: float  # median of REPEATS
    peak_mib: float  # the largest rise over the repeats


def _fill(prefix: str, item: str, suffix: str, limit: int = DEFAULT_MAX_BODY_BYTES) -> str:
    """`prefix item,item,... suffix` as long as fits in `limit` bytes."""
    count = (limit - len(prefix) - len(suffix)) // (len(item) + 1)
    return prefix + ",".join([item] * count) + suffix


def worst_case_bodies(row: dict[str, Any], budget_keys: int) -> list[tuple[str, str, bool]]:
    """(label, body, base64) of each worst case; `budget_keys` extra keys fill the budget."""
    valid_rows = generate_churn(n_rows=DEFAULT_MAX_ROWS, seed=3).records()
    pairs = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in row.items())
    depth = DEFAULT_MAX_BODY_BYTES // 2 - 20
    return [
        ("largest valid request (1000 rows)", json.dumps({"instances": valid_rows}), False),
        ("one row, repeated unknown key (5 MiB)", _fill('{"instances":[{', '"x":1', "}]}"), False),
        (
            "one row, repeated known key (5 MiB)",
            _fill('{"instances":[{' + pairs + ",", '"tenure_months":1', "}]}"),
            False,
        ),
        (
            "empty objects under an unknown key (5 MiB)",
            _fill('{"instances":[{"a":[', "{}", "]}]}"),
            False,
        ),
        ("nested arrays (5 MiB)", '{"instances":[' + "[" * depth + "]" * depth + "]}", False),
        (
            "one string value (5 MiB)",
            '{"instances":[{"contract":"' + "a" * (DEFAULT_MAX_BODY_BYTES - 40) + '"}]}',
            False,
        ),
        (
            "1000 rows the scaler overflows (1e308)",
            json.dumps({"instances": [{**r, "senior_citizen": 1e308} for r in valid_rows]}),
            False,
        ),
        (
            "base64 of binary bytes (5 MiB decoded)",
            base64.b64encode(os.urandom(DEFAULT_MAX_BODY_BYTES - 3)).decode(),
            True,
        ),
        (
            f"unknown keys up to the field budget ({budget_keys:,} in one row)",
            '{"instances":[{' + ",".join(f'"x{i}":1' for i in range(budget_keys)) + "}]}",
            False,
        ),
    ]


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _measure(call: Callable[[], dict[str, Any]]) -> tuple[float, float, dict[str, Any]]:
    """(seconds, peak rise in MiB, response) of one call, made in a forked child."""
    gc.collect()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: measure, report through the pipe, leave without cleanup
        os.close(read_end)
        _reset_peak()
        before = _rss_kib("VmRSS")
        started = time.perf_counter()
        response = call()
        seconds = time.perf_counter() - started
        peak = max(0, _rss_kib("VmHWM") - before) / 1024
        with os.fdopen(write_end, "w") as report:
            json.dump([seconds, peak, response], report)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as report:
        seconds, peak, response = json.load(report)
    os.waitpid(child, 0)
    return seconds, peak, response


def measure_hostile(endpoint: str, model: BenchModel, cache_dir: Path) -> list[HostileFigure]:
    environment = function_environment(endpoint, model, cache_dir)
    figures = []
    with contextlib.redirect_stdout(QUIET), patched_environ(environment):
        module, handler = load_handler(PREDICT_HANDLER)
        loaded = module.service.model()
        row = generate_churn(n_rows=10, seed=5).records()[0]
        budget_keys = _budget_keys(loaded.schema)
        context = FakeLambdaContext()
        for label, body, encoded in worst_case_bodies(row, budget_keys):
            event = http_api_event("POST", "/predict", body)
            event["isBase64Encoded"] = encoded
            runs = [_measure(lambda event=event: handler(event, context)) for _ in range(REPEATS)]
            response = runs[-1][2]
            code = "ok"
            if response["statusCode"] != 200:
                code = json.loads(response["body"])["error"]["code"]
            figures.append(
                HostileFigure(
                    label=label,
                    body_bytes=len(body),
                    status=response["statusCode"],
                    code=code,
                    seconds=summarize([seconds for seconds, _, _ in runs]).p50,
                    peak_mib=max(peak for _, peak, _ in runs),
                )
            )
    return figures


def _fits_budget(schema: Any, keys: int) -> bool:
    body = '{"instances":[{' + ",".join(f'"x{i}":1' for i in range(keys)) + "}]}"
    try:
        schema.check_field_budget(body, DEFAULT_MAX_ROWS)
    except PayloadTooLarge:
        return False
    return True


def _budget_keys(schema: Any) -> int:
    """The most `"xN":1` pairs one row can carry under the field budget."""
    high = 1
    while _fits_budget(schema, high):
        high *= 2
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if _fits_budget(schema, middle) else (low, middle)
    return low


def main() -> None:
    from modelship.training.training import TrainingSpec, train, write_model
    from tests.benchmarks.models import moto_s3
    from tests.benchmarks.run import WORKDIR, _isolate_from_aws

    _isolate_from_aws()
    shutil.rmtree(WORKDIR / "hostile", ignore_errors=True)
    directory = WORKDIR / "hostile" / "reference"
    manifest = write_model(
        train(generate_churn(), TrainingSpec(name="churn", version="v1")), directory
    )
    model = BenchModel("reference", "reference churn model", directory, manifest)
    with moto_s3([model]) as endpoint:
        figures = measure_hostile(endpoint, model, WORKDIR / "hostile-cache")
    for figure in figures:
        print(
            f"{figure.label:60s} {figure.body_bytes / MIB:6.2f} MiB  {figure.status} "
            f"{figure.code:18s} {figure.seconds:8.3f} s  {figure.peak_mib:8.1f} MiB"
        )


if __name__ == "__main__":
    main()
