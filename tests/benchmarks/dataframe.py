"""A model fitted elsewhere, on a DataFrame: the warm handler against the bare estimator.

The model is the one examples/churn_pipeline.py fits (SimpleImputer and OneHotEncoder
selecting columns by name in a ColumnTransformer, gradient boosting), packaged with
`modelship.package` as a user would. The handler builds a one-row DataFrame with the fitted
column names and dtypes (`RowSchema.to_input`); the bare side calls `predict_proba` on that
same DataFrame, so the gap is what serving adds, DataFrame construction included.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import patched_environ
from tests.benchmarks.models import BenchModel
from tests.benchmarks.stats import summarize
from tests.benchmarks.warm import QUIET, LatencyFigure, WarmFunction, _median_seconds

NAME = "churnframe"


def build_dataframe_model(workdir: Path) -> tuple[BenchModel, dict[str, Any]]:
    """The example's pipeline, packaged; and one holdout row as a client would send it."""
    import modelship
    from examples.churn_pipeline import TARGET, as_instances, fit, write_example_csv

    pipeline, holdout = fit(write_example_csv(workdir / "byo" / "churn.csv"))
    directory = workdir / "models" / "dataframe"
    if directory.exists():
        for child in directory.iterdir():
            child.unlink()
        directory.rmdir()
    manifest = modelship.package(
        pipeline, holdout, name=NAME, target=TARGET, version="v1", out=directory
    )
    description = (
        "examples/churn_pipeline.py: SimpleImputer + OneHotEncoder by column name + "
        "GradientBoostingClassifier, fitted on a DataFrame, packaged"
    )
    row = as_instances(holdout.drop(columns=[TARGET]).head(1))[0]
    return BenchModel("dataframe", description, directory, manifest), row


def measure_dataframe(
    endpoint: str, model: BenchModel, row: dict[str, Any], cache_dir: Path, calls: int
) -> tuple[LatencyFigure, list[tuple[str, float]]]:
    """The interleaved comparison, and each step of the request timed on its own."""
    with contextlib.redirect_stdout(QUIET):
        function = WarmFunction(endpoint, model, cache_dir)
        with patched_environ(function.environment):
            event, frame = function.request([row])
            if type(frame).__name__ != "DataFrame":
                raise RuntimeError(f"{model.label} is served a {type(frame).__name__}")
            reply = json.loads(function.handler(event, function.context)["body"])
            served = reply["probabilities"][0][str(function.pipeline.classes_[1])]
            bare = float(function.pipeline.predict_proba(frame)[0, 1])
            if not math.isclose(served, bare, rel_tol=0, abs_tol=1e-12):
                raise RuntimeError(f"the handler answers {served}, predict_proba {bare}")
            handler_times, bare_times = function.compare(event, frame, calls, 200)
            schema, service = function.schema, function.module.service
            rows = schema.parse_request(event["body"], 1)
            steps = [
                ("DataFrame (RowSchema.to_input)", lambda: schema.to_input(rows)),
                (
                    "out-of-range count (RowSchema.count_out_of_range)",
                    lambda: schema.count_out_of_range(rows),
                ),
                ("predict_proba", lambda: function.pipeline.predict_proba(frame)),
                ("PredictionService.predict_body", lambda: service.predict_body(event["body"])),
                ("whole handler", lambda: function.call_handler(event)),
            ]
            stages = [(name, _median_seconds(fn, max(10, calls // 10))) for name, fn in steps]
    return LatencyFigure(summarize(handler_times), summarize(bare_times)), stages
