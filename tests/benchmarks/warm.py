"""Warm invocations in one process: the whole handler against bare `predict_proba`.

Both sides are timed call by call, interleaved, so drift in the machine hits them equally.
The handler's stdout (EMF metrics, logs) goes to /dev/null: in Lambda it is a pipe to the
runtime, here it would only be terminal noise.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.names import PREDICT_HANDLER
from modelship.sample_events import http_api_event, load_event
from modelship.training.churn import generate_churn
from tests.benchmarks.models import BenchModel, function_environment
from tests.benchmarks.stats import Summary, summarize

# Rows per request and how many requests of that size are timed.
BATCH_CALLS = {1: 500, 100: 200, 1000: 50}
# Where the handlers' log lines go while measured. Kept open for the whole run: Powertools'
# Logger keeps the stream its first instance saw, and later loads of the handler reuse it.
QUIET = open(os.devnull, "w")  # noqa: SIM115


@dataclass(frozen=True)
class LatencyFigure:
    handler: Summary
    bare: Summary


@dataclass(frozen=True)
class BatchFigure:
    rows: int
    calls: int
    handler: Summary
    bare: Summary
    # The request format: "rows" (`instances`) or "columns" (`columns`).
    layout: str = "rows"

    @property
    def handler_rows_per_second(self) -> float:
        return self.rows / self.handler.p50

    @property
    def bare_rows_per_second(self) -> float:
        return self.rows / self.bare.p50


@dataclass(frozen=True)
class Batches:
    figures: list[BatchFigure]
    stages: list[tuple[str, float]]
    column_stages: list[tuple[str, float]]


@dataclass(frozen=True)
class WarmResults:
    latency: LatencyFigure
    batches: list[BatchFigure]
    # (stage, median seconds) of one request at the largest batch size, row format and
    # columnar format.
    stages: list[tuple[str, float]]
    column_stages: list[tuple[str, float]] = field(default_factory=list)


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


class WarmFunction:
    """The predict handler after its cold start, plus the pipeline it serves."""

    def __init__(self, endpoint: str, model: BenchModel, cache_dir: Path) -> None:
        self.environment = function_environment(endpoint, model, cache_dir)
        with patched_environ(self.environment):
            self.module, self.handler = load_handler(PREDICT_HANDLER)
        loaded = self.module.service.model()
        self.schema = loaded.schema
        self.pipeline = loaded.estimator
        self.context = FakeLambdaContext()

    def request(
        self, instances: list[dict[str, Any]], layout: str = "rows"
    ) -> tuple[dict[str, Any], np.ndarray | pd.DataFrame]:
        """The API Gateway event for `instances` (as rows, or as one array per feature for
        layout "columns") and what bare predict_proba gets: the estimator's input as the
        handler builds it (an object matrix, or a DataFrame for a model fitted on one)."""
        if layout == "columns":
            columns = {name: [row[name] for row in instances] for name in self.schema.names}
            body = json.dumps({"columns": columns})
        else:
            body = json.dumps({"instances": instances})
        event = http_api_event("POST", "/predict", body)
        return event, self.schema.to_input(self.schema.validate(instances))

    def call_handler(self, event: dict[str, Any]) -> None:
        response = self.handler(event, self.context)
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}: {response['body']}")

    def compare(
        self, event: dict[str, Any], matrix: np.ndarray | pd.DataFrame, calls: int, warmup: int
    ) -> tuple[list[float], list[float]]:
        handler_times: list[float] = []
        bare_times: list[float] = []
        for i in range(warmup + calls):
            handler_s = _timed(lambda: self.call_handler(event))
            bare_s = _timed(lambda: self.pipeline.predict_proba(matrix))
            if i >= warmup:
                handler_times.append(handler_s)
                bare_times.append(bare_s)
        return handler_times, bare_times


def _median_seconds(fn: Callable[[], Any], calls: int) -> float:
    for _ in range(3):
        fn()
    return summarize([_timed(fn) for _ in range(calls)]).p50


def stage_breakdown(
    function: WarmFunction, instances: list[dict[str, Any]], calls: int
) -> list[tuple[str, float]]:
    """Each step of a row request timed on its own, to show where the handler's time goes."""
    event, matrix = function.request(instances)
    body = event["body"]
    max_rows = function.module.settings.max_rows
    rows = function.schema.parse_request(body, max_rows)
    service = function.module.service
    prediction = service.predict_body(body)
    proba = function.pipeline.predict_proba(matrix)
    stages = [
        (
            "parse and validate the body in one pass (RowSchema.parse_request)",
            lambda: function.schema.parse_request(body, max_rows),
        ),
        ("object matrix (RowSchema.to_matrix)", lambda: function.schema.to_matrix(rows)),
        ("predict_proba", lambda: function.pipeline.predict_proba(matrix)),
        (
            "probabilities as one dict per row",
            lambda: [dict(zip(("0", "1"), r, strict=True)) for r in proba.tolist()],
        ),
        (
            "PredictionService.predict_body (all of the above)",
            lambda: service.predict_body(body),
        ),
        (
            "response JSON (json.dumps)",
            lambda: json.dumps(prediction.body(), separators=(",", ":")),
        ),
        ("whole handler", lambda: function.call_handler(event)),
    ]
    return [(name, _median_seconds(fn, calls)) for name, fn in stages]


def column_stage_breakdown(
    function: WarmFunction, instances: list[dict[str, Any]], calls: int
) -> list[tuple[str, float]]:
    """The same steps for a columnar request of the same rows."""
    event, matrix = function.request(instances, "columns")
    body = event["body"]
    max_rows = function.module.settings.max_rows
    service = function.module.service
    parser = service.columns(service.model())
    values = parser.parse_request(body, max_rows).values
    prediction = service.predict_body(body)
    proba = function.pipeline.predict_proba(matrix)
    stages = [
        (
            "parse and validate the columns in one pass (ColumnSchema.parse_request)",
            lambda: parser.parse_request(body, max_rows),
        ),
        (
            "object matrix column by column (RowSchema.columns_matrix)",
            lambda: function.schema.columns_matrix(values),
        ),
        (
            "out-of-range count over the numeric columns",
            lambda: function.schema.columns_out_of_range(values),
        ),
        ("predict_proba", lambda: function.pipeline.predict_proba(matrix)),
        ("probability matrix (one tolist)", lambda: proba.tolist()),
        (
            "PredictionService.predict_body (all of the above)",
            lambda: service.predict_body(body),
        ),
        (
            "response JSON (json.dumps)",
            lambda: json.dumps(prediction.body(), separators=(",", ":")),
        ),
        ("whole handler", lambda: function.call_handler(event)),
    ]
    return [(name, _median_seconds(fn, calls)) for name, fn in stages]


def measure_warm(
    endpoint: str, model: BenchModel, cache_dir: Path, latency_calls: int, scale: float = 1.0
) -> WarmResults:
    with contextlib.redirect_stdout(QUIET):
        function = WarmFunction(endpoint, model, cache_dir)
        with patched_environ(function.environment):
            row = json.loads(load_event("predict_valid")["body"])["instances"][0]
            event, matrix = function.request([row])
            handler_times, bare_times = function.compare(event, matrix, latency_calls, 200)
            latency = LatencyFigure(summarize(handler_times), summarize(bare_times))
            batches = _batches(function, scale)
    return WarmResults(latency, batches.figures, batches.stages, batches.column_stages)


def measure_batches(
    endpoint: str, model: BenchModel, cache_dir: Path, scale: float = 1.0
) -> Batches:
    """The batch figure alone (`run.py --only batch`): no one-row latency."""
    with contextlib.redirect_stdout(QUIET):
        function = WarmFunction(endpoint, model, cache_dir)
        with patched_environ(function.environment):
            return _batches(function, scale)


def _batches(function: WarmFunction, scale: float) -> Batches:
    """Each batch size in both formats, each against its own bare calls."""
    records = generate_churn(n_rows=max(BATCH_CALLS), seed=11).records()
    batches = []
    for rows, full_calls in BATCH_CALLS.items():
        calls = max(10, int(full_calls * scale))
        for layout in ("rows", "columns"):
            event, matrix = function.request(records[:rows], layout)
            handler_times, bare_times = function.compare(event, matrix, calls, 5)
            batches.append(
                BatchFigure(rows, calls, summarize(handler_times), summarize(bare_times), layout)
            )
    largest = records[: max(BATCH_CALLS)]
    stage_calls = max(10, int(50 * scale))
    return Batches(
        batches,
        stage_breakdown(function, largest, stage_calls),
        column_stage_breakdown(function, largest, stage_calls),
    )
