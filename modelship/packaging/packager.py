"""`modelship.package`: a model fitted elsewhere, checked and written as the model directory
`models publish` takes (artifact, code.zip if any, manifest.json).

Everything is checked first (an estimator, fitted, predicting on the sample, picklable with
what the predict function has, at the layer's versions), then the directory is built under a
hidden temporary name beside `out`, the artifact is loaded back and compared with the original
on the sample (the smoke check), and only then renamed to `out`: a refused model leaves
nothing behind, and `out` is never half written.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from modelship.class_labels import LabelRule
from modelship.errors import InvalidVersion, PackagingError
from modelship.names import MODEL_CODE_FILE, MODEL_MANIFEST_FILE
from modelship.packaging.artifact_file import dump_artifact
from modelship.packaging.code_bundle import code_source, write_code_zip
from modelship.packaging.dependencies import check_modules, check_versions, pickle_references
from modelship.packaging.description import (
    TaskInfo,
    check_estimator,
    describe_estimator,
    describe_task,
    label_rule,
)
from modelship.packaging.input_files import (
    load_model_file,
    model_file_format,
    read_sample_file,
)
from modelship.packaging.sample_schema import SampleInput, read_sample
from modelship.packaging.smoke_check import original_outputs, smoke_check
from modelship.registry.manifest import (
    ARTIFACT_FILES,
    ArtifactFormat,
    CategoricalProfile,
    Manifest,
    ModelDescription,
    NumericProfile,
    TrainingData,
)
from modelship.registry.versions import check_model_name, check_version_id, new_version_id
from modelship.training.profiles import prediction_profile, profile_column
from modelship.training.training import current_runtime, evaluate, label_fractions


def package(
    model: Any,
    sample: pd.DataFrame | np.ndarray,
    *,
    name: str,
    out: Path | str,
    target: str | None = None,
    version: str | None = None,
    code: Iterable[Path | str] = (),
    columns: Mapping[str, Any] | None = None,
    artifact_format: ArtifactFormat = "joblib",
    trusted_types: Iterable[str] = (),
    sample_uri: str | None = None,
    description: ModelDescription | Mapping[str, Any] | None = None,
) -> Manifest:
    """Packages a fitted scikit-learn model into `out` and returns its manifest.

    `sample` is rows of the model's input (a DataFrame, or an array for a model fitted on
    arrays); with `target`, that column holds labels and holdout metrics are computed on it.
    `code` ships the model's own modules (files or package directories); `columns` overrides
    the inferred schema per column ({name: {"kind", "categories", "min", "max", "nullable"}}).
    `trusted_types` (skops only) names types beyond the ones trusted by default (scikit-learn's,
    numpy's and scipy.sparse's data containers, the `code` modules') that the file may hold.
    `description` is what the model card says of it: {"summary", "intended_use", "owner",
    "limitations"} (all optional), or a ModelDescription.
    """
    check_model_name(name)
    stated = ModelDescription.of(description)
    version = check_version_id(version) if version else new_version_id()
    out = Path(out)
    check_output(out)
    if artifact_format not in ARTIFACT_FILES:
        raise PackagingError(
            f"unknown artifact format {artifact_format!r}: joblib or skops",
            reason="invalid_format",
        )
    check_estimator(model)
    source = code_source(code)
    sample_input = read_sample(model, sample, target=target, columns=columns)
    task = describe_task(model)
    expected = original_outputs(model, sample_input, task.task)
    references = pickle_references(model)
    check_modules(references, source.modules)
    runtime = current_runtime()
    check_versions(runtime, references, artifact_format)
    labels = (
        label_rule(model, expected.predictions, expected.probabilities)
        if expected.probabilities is not None
        else "argmax"
    )
    metrics = holdout_metrics(model, sample_input, task, labels)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        artifact = dump_artifact(
            model, staging, artifact_format, source.modules, list(trusted_types)
        )
        code_info = write_code_zip(source, staging / MODEL_CODE_FILE) if source.modules else None
        manifest = Manifest(
            name=name,
            version=version,
            created_at=datetime.now(UTC),
            task=task.task,
            classes=task.classes,
            labels=labels,
            features=sample_input.features,
            input_format=sample_input.input_format,
            artifact=artifact,
            code=code_info,
            runtime=runtime,
            origin="packaged",
            estimator=describe_estimator(model),
            metrics=metrics,
            training_data=TrainingData(
                uri=sample_uri or "memory:sample",
                rows=sample_input.frame.shape[0],
                target=target,
                label_fractions=(
                    label_fractions(sample_input.target)
                    if sample_input.target is not None and task.task == "classification"
                    else {}
                ),
            ),
            profile=sample_profile(sample_input),
            prediction_profile=prediction_profile(task.task, expected.predictions),
            description=stated,
        )
        smoke_check(model, manifest, staging, sample_input, expected)
        (staging / MODEL_MANIFEST_FILE).write_text(manifest.to_json())
        _permissions_as_created(staging)
        _move_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def package_file(
    artifact_path: Path | str,
    sample_path: Path | str,
    *,
    out: Path | str,
    name: str | None = None,
    target: str | None = None,
    version: str | None = None,
    code: Iterable[Path | str] = (),
    columns: Mapping[str, Any] | None = None,
    artifact_format: ArtifactFormat | None = None,
    trusted_types: Iterable[str] = (),
    description: ModelDescription | Mapping[str, Any] | None = None,
) -> Manifest:
    """`package` for a model saved to a file (.joblib, .pkl, .skops) and a sample file (CSV,
    or Parquet with pyarrow installed). The name defaults to the file's stem; the format to
    the file's own."""
    path = Path(artifact_path)
    file_format = model_file_format(path)
    if name is None:
        try:
            name = check_model_name(path.stem)
        except InvalidVersion:
            raise InvalidVersion(
                f"{path.name}: {path.stem!r} is not a valid model name (1-64 letters, digits, "
                "'.', '_' or '-'); pass --name"
            ) from None
    check_output(Path(out))
    code = list(code)
    trusted_types = list(trusted_types)
    model = load_model_file(path, code_source(code), trusted_types)
    sample = read_sample_file(Path(sample_path))
    return package(
        model,
        sample,
        name=name,
        out=out,
        target=target,
        version=version,
        code=code,
        columns=columns,
        artifact_format=artifact_format or file_format,
        trusted_types=trusted_types,
        sample_uri=Path(sample_path).resolve().as_uri(),
        description=description,
    )


def check_output(out: Path) -> None:
    """`out` must not exist, or be an empty directory: nothing there is ever replaced."""
    if out.is_dir() and not any(out.iterdir()):
        return
    if out.exists() or out.is_symlink():
        raise PackagingError(
            f"{out} already exists and is not an empty directory; choose another --out",
            reason="output_exists",
        )


def holdout_metrics(
    model: Any, sample: SampleInput, task: TaskInfo, labels: LabelRule = "argmax"
) -> dict[str, float]:
    """Metrics on the labelled sample (none without labels, or for a predict-only model)."""
    if sample.target is None or task.task == "predict_only":
        return {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metrics = evaluate(model, sample.model_input, sample.target, task.task, labels)
        except ValueError as exc:
            raise _no_metrics(str(exc)) from None
    undefined = sorted(k for k, v in metrics.items() if not math.isfinite(v))
    if undefined:
        said = f" ({caught[0].message})" if caught else ""
        raise _no_metrics(f"{', '.join(undefined)} undefined{said}")
    return metrics


def _no_metrics(why: str) -> PackagingError:
    return PackagingError(
        f"holdout metrics cannot be computed on the labelled sample: {why}; pass a sample with "
        "more rows (every class present), or no target",
        reason="invalid_sample",
    )


def sample_profile(sample: SampleInput) -> dict[str, NumericProfile | CategoricalProfile]:
    """The drift profile of each feature over the sample's present values."""
    profile: dict[str, NumericProfile | CategoricalProfile] = {}
    for feature in sample.features:
        present = sample.frame[feature.name].dropna()
        if feature.kind == "numeric":
            values = present.astype(float).to_numpy()
        else:
            values = np.array([str(v) for v in present], dtype=object)
        profile[feature.name] = profile_column(values, feature.kind)
    return profile


def _permissions_as_created(directory: Path) -> None:
    """mkdtemp's 0o700 would follow the directory to `out`: give it what mkdir would."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)


def _move_into_place(staging: Path, out: Path) -> None:
    if out.is_dir():
        out.rmdir()  # empty (checked); rmdir refuses if something appeared since
    try:
        staging.rename(out)
    except OSError as exc:
        raise PackagingError(
            f"{out} appeared while packaging; nothing was written there ({exc.strerror})",
            reason="output_exists",
        ) from None
