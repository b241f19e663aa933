"""Training with the user's own code: a training entry point, `package.module:function`, is
called with the training rows as a pandas DataFrame and the target as a Series, and returns
a fitted estimator, which is packaged (modelship.packaging) into the model directory the
rest of the pipeline evaluates, gates, registers and releases as any other.

The rows are what `pandas.read_csv` would have given for the dataset: integral numeric
columns int64, other numeric columns float64, categorical columns pandas' string dtype; the
index is 0..n-1. Used by the Lambda trainer (`tasks`) and the SageMaker job
(`sagemaker_entry`) alike.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from modelship import names
from modelship.errors import ConfigurationError, TrainingError
from modelship.layer_runtime import code_modules, shadowing
from modelship.registry.manifest import Manifest, TrainingData
from modelship.retraining.settings import check_entry_point
from modelship.training.tables import Table
from modelship.training.training import holdout_split

TrainingFunction = Callable[[Any, Any], Any]


def load_entry_point(spec: str, code_dir: Path | None = None) -> TrainingFunction:
    """Imports `package.module:function` (with `code_dir`, the user's staged code, on the
    import path) and returns the function; every failure names the entry point."""
    try:
        check_entry_point(spec)
    except ValueError as exc:
        raise ConfigurationError(f"training entry point {spec[:200]!r}: {exc}") from None
    if not spec:
        raise ConfigurationError("no training entry point is set")
    module_name, _, attribute = spec.partition(":")
    if code_dir is not None:
        if not code_dir.is_dir():
            raise ConfigurationError(f"the training code directory {code_dir} does not exist")
        check_code_names(code_dir)
        if str(code_dir) not in sys.path:
            sys.path.insert(0, str(code_dir))
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            where = f" in {code_dir}" if code_dir else " (is trainingCode set?)"
            raise TrainingError(
                f"training entry point {spec}: module {exc.name!r} not found{where}"
            ) from None
        raise TrainingError(
            f"training entry point {spec}: importing {module_name} failed: {exc}"
        ) from exc
    except Exception as exc:
        raise TrainingError(
            f"training entry point {spec}: importing {module_name} failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    function = getattr(module, attribute, None)
    if function is None:
        raise TrainingError(f"training entry point {spec}: {module_name} has no {attribute!r}")
    if not callable(function):
        raise TrainingError(
            f"training entry point {spec}: {attribute!r} is a {type(function).__name__}, "
            "not a function"
        )
    return function  # type: ignore[no-any-return]


def holdout_rows(table: Table, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The train/holdout split for a run whose task is the user's: stratified when the target
    looks like class labels (scikit-learn's `type_of_target`), else, or when a label is too
    rare to stratify, a plain shuffled split. Deterministic for the same table."""
    from sklearn.utils.multiclass import type_of_target

    y = table.target_values()
    if type_of_target(y) in ("binary", "multiclass"):
        try:
            return holdout_split(table, fraction, seed, "classification")
        except TrainingError:
            pass
    return holdout_split(table, fraction, seed, "regression")


def feature_frame(table: Table, rows: np.ndarray) -> Any:
    """The feature columns of `rows` as a DataFrame (dtypes decided on the whole table, so
    training rows and holdout rows agree)."""
    import pandas as pd

    data: dict[str, Any] = {}
    for name in table.feature_names:
        column = table.columns[name]
        if table.kinds[name] == "numeric":
            numbers = column.astype(np.float64)
            integral = bool(np.all(np.isfinite(numbers)) and np.all(np.mod(numbers, 1.0) == 0))
            data[name] = numbers[rows].astype(np.int64) if integral else numbers[rows]
        else:
            data[name] = pd.Series(column[rows], dtype="str")
    frame = pd.DataFrame(data)
    frame.index = pd.RangeIndex(len(rows))
    return frame


def target_series(table: Table, rows: np.ndarray) -> Any:
    import pandas as pd

    values = table.target_values()[rows]
    if values.dtype == object:
        return pd.Series(values, name=table.target, dtype="str")
    return pd.Series(values, name=table.target)


def code_paths(code_dir: Path | None) -> list[Path]:
    """The modules and packages at the top of the user's code directory: what the packaged
    model carries as code.zip."""
    if code_dir is None:
        return []
    return code_modules(code_dir)


def check_code_names(code_dir: Path) -> None:
    """No top-level module of the user's code may shadow what the runtime imports: the code
    goes first on the import path here, and ships as the model's code.zip."""
    problems = shadowing(code_dir)
    if problems:
        raise ConfigurationError(
            f"the training code in {code_dir} cannot be used: {'; '.join(problems)}; rename it"
        )


def train_with_entry_point(
    table: Table,
    spec: str,
    *,
    name: str,
    out: Path,
    holdout_fraction: float,
    seed: int,
    code_dir: Path | None,
    data_uri: str,
    data_etag: str | None,
    parent_version: str | None,
) -> Manifest:
    """Calls the user's function on the training rows and packages what it returns into
    `out`, with the labelled holdout as the sample (its metrics, schema and smoke check)."""
    from modelship.errors import PackagingError
    from modelship.packaging import package

    function = load_entry_point(spec, code_dir)
    train_rows, holdout = holdout_rows(table, holdout_fraction, seed)
    x, y = feature_frame(table, train_rows), target_series(table, train_rows)
    try:
        estimator = function(x, y)
    except Exception as exc:
        raise TrainingError(
            f"training entry point {spec} raised {type(exc).__name__}: {exc}"
        ) from exc
    sample = feature_frame(table, holdout)
    sample[table.target] = target_series(table, holdout)
    try:
        packaged: Manifest = package(
            estimator,
            sample,
            name=name,
            out=out,
            target=table.target,
            code=code_paths(code_dir),
            sample_uri=data_uri,
        )
    except PackagingError as exc:
        raise TrainingError(
            f"the estimator training entry point {spec} returned cannot be shipped: {exc}"
        ) from exc
    # Lineage as for a model the built-in trainer fits: the whole dataset, its split, its
    # parent. The artifact is untouched, so its sha256 in the manifest still holds.
    manifest = packaged.model_copy(
        update={
            "parent_version": parent_version,
            "training_data": TrainingData(
                uri=data_uri,
                etag=data_etag,
                rows=table.n_rows,
                target=table.target,
                holdout_fraction=holdout_fraction,
                seed=seed,
            ),
        }
    )
    (out / names.MODEL_MANIFEST_FILE).write_text(manifest.to_json())
    return manifest
