"""The check a packaged model passes before its directory exists: loaded back through the code
the predict function runs, fed the sample's rows as a client sends them, it must answer
exactly what the original model answers."""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelship.class_labels import LabelRule, served_labels
from modelship.errors import IncompatibleModel, PackagingError, RequestError
from modelship.names import MODEL_CODE_FILE
from modelship.packaging.sample_schema import SampleInput, sample_rows
from modelship.registry.manifest import Manifest, Task
from modelship.serving.artifacts import load_estimator, unpack_code
from modelship.serving.schema import RowSchema

# load_estimator's refusals, as packaging reports them.
_LOAD_REASONS = {
    "missing_module": "missing_module",
    "untrusted_types": "untrusted_types",
    "incompatible_sklearn": "version_mismatch",
}


@dataclass(frozen=True)
class Outputs:
    """What a model answers for some rows: labels or values, and class probabilities."""

    predictions: np.ndarray
    probabilities: np.ndarray | None


def model_outputs(model: Any, x: Any, task: Task, labels: LabelRule = "predict") -> Outputs:
    """What the service answers for `x`: a classifier's labels by the manifest's rule (its
    predict, or the argmax of its probabilities) and its probabilities; predict otherwise."""
    if task != "classification":
        return Outputs(np.asarray(model.predict(x)), None)
    probabilities = np.asarray(model.predict_proba(x))
    return Outputs(served_labels(model, x, probabilities, labels), probabilities)


def original_outputs(model: Any, sample: SampleInput, task: Task) -> Outputs:
    """The original model on the sample (its own predict, and predict_proba for a classifier);
    a failure here is the model's, named as such."""
    try:
        return model_outputs(model, sample.model_input, task)
    except Exception as exc:  # whatever the user's estimator raises
        raise PackagingError(
            f"the model fails to predict on the sample: {type(exc).__name__}: {exc}",
            reason="predict_failed",
        ) from None


def smoke_check(
    model: Any, manifest: Manifest, directory: Path, sample: SampleInput, expected: Outputs
) -> None:
    """Loads the artifact in `directory` as the predict function does and compares, on the
    sample's rows as a client sends them, what the service answers (labels by the manifest's
    rule, probabilities): (1) from the loaded model and from the model in memory, bit for bit:
    the artifact and its code reproduce the model exactly; (2) with the original's predict and
    predict_proba on the sample as given, labels exactly and numbers to 1e-12: the served
    labels are the model's own, and the schema and the served input carry the same values (a
    float sum may move by an ulp when the served DataFrame's memory layout differs from the
    sample's, which the estimator's BLAS calls see)."""
    body = json.dumps({"instances": sample_rows(sample.frame, manifest.features)}, allow_nan=False)
    modules = manifest.code.modules if manifest.code else ()
    with tempfile.TemporaryDirectory(prefix="modelship-smoke-") as scratch, _fresh_imports(modules):
        code_dir = None
        if manifest.code is not None:
            code_dir = unpack_code(directory / MODEL_CODE_FILE, manifest, Path(scratch) / "code")
        try:
            loaded = load_estimator(manifest, directory / manifest.artifact.file, code_dir)
        except IncompatibleModel as exc:
            raise PackagingError(
                f"the packaged artifact does not load as the predict function loads it: {exc}",
                reason=_LOAD_REASONS.get(exc.reason, "smoke_mismatch"),
            ) from None
        schema = RowSchema(manifest.features, manifest.input_format)
        try:
            rows = schema.parse_request(body, max_rows=sample.frame.shape[0])
        except RequestError as exc:
            details = getattr(exc, "errors", [])
            raise PackagingError(
                f"the sample's rows do not pass the inferred schema ({exc}"
                + (f"; first: {details[0]}" if details else "")
                + "); fix the column overrides",
                reason="smoke_mismatch",
            ) from None
        served = schema.to_input(rows)
        try:
            actual = model_outputs(loaded, served, manifest.task, manifest.labels)
        except Exception as exc:  # the estimator refusing the input it will be served
            raise PackagingError(
                "the loaded model fails on the sample as the predict function would send it: "
                f"{type(exc).__name__}: {exc}",
                reason="smoke_mismatch",
            ) from None
    in_memory = model_outputs(model, served, manifest.task, manifest.labels)
    _refuse_if(
        "the artifact loaded back answers differently from the model in memory",
        [
            difference("predictions", in_memory.predictions, actual.predictions),
            difference("probabilities", in_memory.probabilities, actual.probabilities),
        ],
    )
    _refuse_if(
        "the sample's rows as a client sends them get different answers from the sample itself",
        [
            difference("predictions", expected.predictions, actual.predictions, tolerance=1e-12),
            difference(
                "probabilities", expected.probabilities, actual.probabilities, tolerance=1e-12
            ),
        ],
    )


def _refuse_if(what: str, problems: list[str | None]) -> None:
    found = [p for p in problems if p]
    if found:
        raise PackagingError(f"{what}: {'; '.join(found)}", reason="smoke_mismatch")


def difference(
    what: str, expected: np.ndarray | None, actual: np.ndarray | None, tolerance: float = 0.0
) -> str | None:
    """How two answers differ, or None when they are equal: bit for bit (NaN equal to NaN),
    or floats within `tolerance` (absolute and relative)."""
    if expected is None or actual is None:
        return None if expected is actual else f"{what} are missing on one side"
    if expected.shape != actual.shape:
        return f"{what} have shape {actual.shape}, the original's {expected.shape}"
    if expected.dtype != actual.dtype:
        return f"{what} have dtype {actual.dtype}, the original's {expected.dtype}"
    floating = expected.dtype.kind in "fc"
    if np.array_equal(expected, actual, equal_nan=floating):
        return None
    if floating:
        same = np.isclose(expected, actual, rtol=tolerance, atol=tolerance, equal_nan=True)
        if same.all():
            return None
    else:
        same = expected == actual
    rows = np.flatnonzero(~same.reshape(len(same), -1).all(axis=1))
    first = int(rows[0])
    largest = ""
    if floating:
        largest = f", largest difference {float(np.nanmax(np.abs(expected - actual))):.3g}"
    return (
        f"{len(rows)} of {len(same)} rows' {what} differ (row {first}: original "
        f"{_plain(expected[first])!r}, packaged {_plain(actual[first])!r}{largest})"
    )


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


@contextlib.contextmanager
def _fresh_imports(modules: tuple[str, ...]) -> Iterator[None]:
    """The model's own modules imported afresh from code.zip (not the copies this process
    already has), so the check proves the zip provides them (load_estimator drops those
    copies too); this process's copies, which the model in memory was built from, and
    sys.path are put back afterwards."""
    saved_path = list(sys.path)
    saved = {
        name: module
        for name, module in sys.modules.items()
        if any(name == m or name.startswith(f"{m}.") for m in modules)
    }
    for name in saved:
        del sys.modules[name]
    try:
        yield
    finally:
        for name in [
            n for n in sys.modules if any(n == m or n.startswith(f"{m}.") for m in modules)
        ]:
            del sys.modules[name]
        sys.modules.update(saved)
        sys.path[:] = saved_path
