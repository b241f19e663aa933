"""Fits a scikit-learn Pipeline on a Table and writes model.joblib plus its manifest."""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import scipy
import sklearn
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from modelship.class_labels import LabelRule, served_labels
from modelship.digest import file_digest
from modelship.errors import TrainingError
from modelship.names import MODEL_ARTIFACT_FILE, MODEL_MANIFEST_FILE
from modelship.registry.manifest import (
    MAX_DISCRETE_VALUES,
    PROFILE_QUANTILES,
    ArtifactInfo,
    CategoricalProfile,
    EstimatorInfo,
    FeatureKind,
    FeatureSpec,
    Manifest,
    NumericProfile,
    RuntimeInfo,
    Task,
    TrainingData,
)
from modelship.registry.versions import check_model_name, check_version_id, new_version_id
from modelship.training.tables import Table

Params = dict[str, float | int | str | bool | None]

ALGORITHMS: dict[str, tuple[Task, type[BaseEstimator], Params]] = {
    "logistic_regression": ("classification", LogisticRegression, {"C": 1.0, "max_iter": 1000}),
    "random_forest": (
        "classification",
        RandomForestClassifier,
        {"n_estimators": 200, "max_depth": None, "min_samples_leaf": 1, "n_jobs": 1},
    ),
    "gradient_boosting": (
        "classification",
        HistGradientBoostingClassifier,
        {"max_iter": 200, "learning_rate": 0.1},
    ),
    "ridge": ("regression", Ridge, {"alpha": 1.0}),
    "random_forest_regressor": (
        "regression",
        RandomForestRegressor,
        {"n_estimators": 200, "n_jobs": 1},
    ),
    "gradient_boosting_regressor": (
        "regression",
        HistGradientBoostingRegressor,
        {"max_iter": 200},
    ),
}


@dataclass(frozen=True)
class TrainingSpec:
    name: str
    algorithm: str = "logistic_regression"
    params: Params | None = None
    holdout_fraction: float = 0.2
    seed: int = 42
    version: str | None = None
    parent_version: str | None = None
    data_uri: str = "generated:churn"
    data_etag: str | None = None


@dataclass(frozen=True)
class TrainedModel:
    pipeline: Pipeline
    features: tuple[FeatureSpec, ...]
    task: Task
    classes: tuple[int | str, ...] | None
    metrics: dict[str, float]
    profile: dict[str, NumericProfile | CategoricalProfile]
    estimator: EstimatorInfo
    training_data: TrainingData
    spec: TrainingSpec
    holdout_rows: np.ndarray


def feature_specs(table: Table, rows: np.ndarray | None = None) -> tuple[FeatureSpec, ...]:
    """Schema from the training rows: numeric ranges, categorical levels (sorted)."""
    specs = []
    for name in table.feature_names:
        values = table.columns[name] if rows is None else table.columns[name][rows]
        if table.kinds[name] == "numeric":
            as_float = values.astype(float)
            integral = bool(np.all(np.mod(as_float, 1.0) == 0.0))
            specs.append(
                FeatureSpec(
                    name=name,
                    kind="numeric",
                    dtype="int" if integral else "float",
                    min=float(as_float.min()),
                    max=float(as_float.max()),
                )
            )
        else:
            levels = tuple(sorted({str(v) for v in values}))
            specs.append(FeatureSpec(name=name, kind="categorical", dtype="str", categories=levels))
    return tuple(specs)


def build_pipeline(
    features: tuple[FeatureSpec, ...], algorithm: str, params: Params | None = None
) -> Pipeline:
    if algorithm not in ALGORITHMS:
        raise TrainingError(
            f"unknown algorithm {algorithm!r}; choose one of {', '.join(sorted(ALGORITHMS))}"
        )
    _, estimator_type, defaults = ALGORITHMS[algorithm]
    merged = {**defaults, **(params or {})}
    numeric = [i for i, f in enumerate(features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
    transformers: list[tuple[str, Any, list[int]]] = []
    if numeric:
        transformers.append(("numeric", StandardScaler(), numeric))
    if categorical:
        categories = [list(features[i].categories or ()) for i in categorical]
        transformers.append(
            (
                "categorical",
                OneHotEncoder(categories=categories, handle_unknown="ignore", sparse_output=False),
                categorical,
            )
        )
    try:
        estimator = estimator_type(**merged)
    except TypeError as exc:
        raise TrainingError(f"invalid parameters for {algorithm}: {exc}") from None
    return Pipeline(
        [("features", ColumnTransformer(transformers, remainder="drop")), ("model", estimator)]
    )


def holdout_split(
    table: Table, fraction: float, seed: int, task: Task
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic train/holdout row indices (stratified for classification)."""
    indices = np.arange(table.n_rows)
    stratify = table.target_values() if task == "classification" else None
    try:
        train_rows, holdout_rows = train_test_split(
            indices, test_size=fraction, random_state=seed, stratify=stratify
        )
    except ValueError as exc:
        raise TrainingError(f"cannot split a holdout: {exc}") from None
    return np.sort(train_rows), np.sort(holdout_rows)


def train(table: Table, spec: TrainingSpec) -> TrainedModel:
    check_model_name(spec.name)
    if spec.algorithm not in ALGORITHMS:
        raise TrainingError(
            f"unknown algorithm {spec.algorithm!r}; choose one of {', '.join(sorted(ALGORITHMS))}"
        )
    task, _, defaults = ALGORITHMS[spec.algorithm]
    y_all = table.target_values()
    if task == "classification" and len(np.unique(y_all)) < 2:
        raise TrainingError("the target has a single class; nothing to learn")
    train_rows, holdout_rows = holdout_split(table, spec.holdout_fraction, spec.seed, task)
    features = feature_specs(table, train_rows)
    pipeline = build_pipeline(features, spec.algorithm, spec.params)
    x = table.features_matrix()
    pipeline.fit(x[train_rows], y_all[train_rows])
    classes = tuple(class_label(c) for c in pipeline.classes_) if task == "classification" else None
    metrics = evaluate(pipeline, x[holdout_rows], y_all[holdout_rows], task)
    return TrainedModel(
        pipeline=pipeline,
        features=features,
        task=task,
        classes=classes,
        metrics=metrics,
        profile=profile_table(table, train_rows),
        estimator=EstimatorInfo(
            algorithm=spec.algorithm, params={**defaults, **(spec.params or {})}
        ),
        training_data=TrainingData(
            uri=spec.data_uri,
            etag=spec.data_etag,
            rows=table.n_rows,
            target=table.target,
            holdout_fraction=spec.holdout_fraction,
            seed=spec.seed,
        ),
        spec=spec,
        holdout_rows=holdout_rows,
    )


def evaluate(
    model: Any, x: Any, y: Any, task: Task, labels: LabelRule = "argmax"
) -> dict[str, float]:
    """Holdout metrics; also used to compare a challenger with the champion on the same rows.
    `x` is what the model takes (an array, or a DataFrame for a DataFrame-fitted model); `y`
    the labels (an array or a pandas Series). A classifier's labels are the ones the service
    answers (the manifest's `labels`: the argmax of its probabilities, or its predict)."""
    started = time.perf_counter()
    if task == "classification":
        proba = model.predict_proba(x)
        predicted = served_labels(model, x, proba, labels)
        elapsed = time.perf_counter() - started
        classes = list(model.classes_)
        y_list = np.asarray(y)
        metrics: dict[str, float] = {"accuracy": float(accuracy_score(y_list, predicted))}
        if len(classes) == 2:
            positive = classes[1]
            metrics["roc_auc"] = float(roc_auc_score(y_list == positive, proba[:, 1]))
            binary_truth = y_list == positive
            binary_pred = predicted == positive
            metrics["precision"] = float(
                precision_score(binary_truth, binary_pred, zero_division=0)
            )
            metrics["recall"] = float(recall_score(binary_truth, binary_pred, zero_division=0))
            metrics["f1"] = float(f1_score(binary_truth, binary_pred, zero_division=0))
        else:
            metrics["roc_auc"] = float(
                roc_auc_score(y_list, proba, multi_class="ovr", labels=classes)
            )
            metrics["f1"] = float(f1_score(y_list, predicted, average="macro"))
        metrics["log_loss"] = float(log_loss(y_list, proba, labels=classes))
    else:
        predicted = model.predict(x)
        elapsed = time.perf_counter() - started
        metrics = {
            "rmse": float(np.sqrt(mean_squared_error(y, predicted))),
            "mae": float(mean_absolute_error(y, predicted)),
            "r2": float(r2_score(y, predicted)),
        }
    metrics["holdout_rows"] = float(len(y))
    metrics["latency_ms_per_row"] = 1000.0 * elapsed / max(len(y), 1)
    return metrics


def profile_table(
    table: Table, rows: np.ndarray, bins: int = 10
) -> dict[str, NumericProfile | CategoricalProfile]:
    """Per-feature training distribution: deciles for numbers, frequencies for categories."""
    return {
        name: profile_column(table.columns[name][rows], table.kinds[name], bins)
        for name in table.feature_names
    }


def profile_column(
    values: np.ndarray, kind: FeatureKind, bins: int = 10
) -> NumericProfile | CategoricalProfile:
    """One feature's distribution over its (non-missing) values: decile bins, the 101
    percentiles and, for a feature with few distinct values, each value's share."""
    if kind == "numeric":
        numbers = values.astype(float)
        edges = np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)))
        if len(edges) < 2:
            edges = np.array([numbers.min(), numbers.min() + 1.0])
        counts, _ = np.histogram(np.clip(numbers, edges[0], edges[-1]), bins=edges)
        distinct, value_counts = np.unique(numbers, return_counts=True)
        discrete = len(distinct) <= MAX_DISCRETE_VALUES
        quantiles = np.quantile(numbers, np.linspace(0, 1, PROFILE_QUANTILES))
        return NumericProfile(
            count=len(numbers),
            mean=float(numbers.mean()),
            std=float(numbers.std()),
            min=float(numbers.min()),
            max=float(numbers.max()),
            bin_edges=tuple(float(e) for e in edges),
            bin_fractions=tuple(float(c) / len(numbers) for c in counts),
            quantiles=tuple(_compact(q) for q in quantiles),
            values=tuple(float(v) for v in distinct) if discrete else (),
            value_fractions=(
                tuple(_compact(c / len(numbers)) for c in value_counts) if discrete else ()
            ),
        )
    levels, counts = np.unique(values.astype(str), return_counts=True)
    return CategoricalProfile(
        count=len(values),
        fractions={str(k): float(c) / len(values) for k, c in zip(levels, counts, strict=True)},
    )


def _compact(value: float) -> float:
    """Seven significant digits: what drift checks need, at a third of the manifest's size."""
    return float(f"{value:.7g}")


def write_model(trained: TrainedModel, out_dir: Path) -> Manifest:
    """Writes model.joblib, then manifest.json naming its sha256 and size. Refuses to
    overwrite a directory that already holds a model."""
    out_dir.mkdir(parents=True, exist_ok=True)
    artifact_path = out_dir / MODEL_ARTIFACT_FILE
    manifest_path = out_dir / MODEL_MANIFEST_FILE
    if artifact_path.exists() or manifest_path.exists():
        raise TrainingError(f"{out_dir} already holds a model; choose an empty directory")
    version = check_version_id(trained.spec.version) if trained.spec.version else new_version_id()
    temp = artifact_path.with_suffix(".partial")
    joblib.dump(trained.pipeline, temp)
    sha256, size = file_digest(temp)
    temp.replace(artifact_path)
    manifest = Manifest(
        name=trained.spec.name,
        version=version,
        created_at=datetime.now(UTC),
        task=trained.task,
        classes=trained.classes,
        features=trained.features,
        artifact=ArtifactInfo(file=MODEL_ARTIFACT_FILE, sha256=sha256, size_bytes=size),
        runtime=current_runtime(),
        estimator=trained.estimator,
        metrics=trained.metrics,
        training_data=trained.training_data,
        parent_version=trained.spec.parent_version,
        profile=trained.profile,
    )
    manifest_path.write_text(manifest.to_json())
    return manifest


def current_runtime() -> RuntimeInfo:
    """The versions of the running environment: the one the model was fitted (or loaded) in.
    pandas is read from its metadata (None where it is not installed), not imported."""
    try:
        pandas_version: str | None = metadata.version("pandas")
    except metadata.PackageNotFoundError:
        pandas_version = None
    return RuntimeInfo(
        python=platform.python_version(),
        sklearn=sklearn.__version__,
        numpy=np.__version__,
        joblib=joblib.__version__,
        scipy=scipy.__version__,
        pandas=pandas_version,
    )


def class_label(value: Any) -> int | str:
    """A class label as the manifest and a JSON answer hold it."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return int(value)
    return str(value)  # a float label too: "1.0", as the loader compares classes by str()
