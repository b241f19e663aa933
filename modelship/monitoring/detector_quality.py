"""How well the drift detector finds drift, measured with the reference dataset's drift knob:
the reference model trained by the repository's own training code on undrifted data, then
many windows of served rows at each drift level, each window's answers from that model and
each judged as the drift monitor judges one (`detect_drift`). The detection rate is the share
of windows judged drift; at drift 0 it is the false-alarm rate."""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship.class_labels import served_labels
from modelship.monitoring.drift import DriftReport, DriftThresholds, detect_drift
from modelship.registry.manifest import Manifest
from modelship.training.churn import generate_churn
from modelship.training.training import TrainingSpec, class_label, train, write_model

DRIFT_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
# A day of a model serving about 7 requests a minute, captured at the default 5%: ~500 rows.
DEFAULT_WINDOW_ROWS = 500
TRAINING_ROWS = 6000
TRAINING_SEED = 7
# Windows draw from seeds far from the training seed: no window repeats the training rows.
LEVEL_SEEDS = 10_000
UNDRIFTED_SEEDS = 1_000_000
_START = datetime(2026, 1, 1, tzinfo=UTC)
_END = datetime(2026, 1, 2, tzinfo=UTC)


@dataclass(frozen=True)
class ReferenceModel:
    manifest: Manifest
    pipeline: Any


@dataclass(frozen=True)
class LevelQuality:
    """The windows at one drift level: how many were judged drift, and which features."""

    drift: float
    windows: int
    detected: int
    mean_score: float
    # In how many windows each feature (or the prediction) was judged drifted.
    flagged: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.detected / self.windows if self.windows else 0.0


@dataclass(frozen=True)
class DetectorQuality:
    window_rows: int
    thresholds: DriftThresholds
    levels: tuple[LevelQuality, ...]
    # Many more undrifted windows than per level: the false-alarm rate is a small number.
    undrifted: LevelQuality

    @property
    def false_alarm_rate(self) -> float:
        return self.undrifted.rate


def reference_model(rows: int = TRAINING_ROWS, seed: int = TRAINING_SEED) -> ReferenceModel:
    """The reference model as `modelship train` makes it, on undrifted data: its manifest
    carries the training profile every window is judged against."""
    trained = train(generate_churn(rows, seed=seed, drift=0.0), TrainingSpec(name="churn"))
    with tempfile.TemporaryDirectory(prefix="modelship-quality-") as scratch:
        manifest = write_model(trained, Path(scratch) / "model")
    return ReferenceModel(manifest=manifest, pipeline=trained.pipeline)


def judge_window(
    model: ReferenceModel, drift: float, seed: int, rows: int, thresholds: DriftThresholds
) -> DriftReport:
    """One window of served rows at a drift level, with the model's answers to them as the
    service gives them, judged against the training profile."""
    table = generate_churn(rows, seed=seed, drift=drift)
    x = table.features_matrix()
    labels = served_labels(
        model.pipeline, x, model.pipeline.predict_proba(x), model.manifest.labels
    )
    return detect_drift(
        model.manifest,
        table.records(),
        [class_label(v) for v in labels],
        window_start=_START,
        window_end=_END,
        requests=rows,
        thresholds=thresholds,
    )


def measure_level(
    model: ReferenceModel,
    drift: float,
    *,
    windows: int,
    rows: int,
    thresholds: DriftThresholds,
    first_seed: int = LEVEL_SEEDS,
) -> LevelQuality:
    reports = [judge_window(model, drift, first_seed + i, rows, thresholds) for i in range(windows)]
    flagged = Counter(name for r in reports for name in r.drifted_features)
    return LevelQuality(
        drift=drift,
        windows=windows,
        detected=sum(r.verdict == "drift" for r in reports),
        mean_score=sum(r.score for r in reports) / windows if windows else 0.0,
        flagged=dict(flagged.most_common()),
    )


def measure_detector_quality(
    model: ReferenceModel | None = None,
    *,
    window_rows: int = DEFAULT_WINDOW_ROWS,
    windows_per_level: int = 200,
    undrifted_windows: int = 1000,
    levels: tuple[float, ...] = DRIFT_LEVELS,
    thresholds: DriftThresholds = DriftThresholds(),  # noqa: B008 - frozen, so shareable
) -> DetectorQuality:
    """Detection rate at each drift level over `windows_per_level` windows of `window_rows`
    rows, and the false-alarm rate over `undrifted_windows` other undrifted windows."""
    if window_rows < 10:
        raise ValueError("a window needs at least 10 rows (the reference dataset's minimum)")
    reference = model or reference_model()
    measured = tuple(
        measure_level(
            reference, drift, windows=windows_per_level, rows=window_rows, thresholds=thresholds
        )
        for drift in levels
    )
    undrifted = measure_level(
        reference,
        0.0,
        windows=undrifted_windows,
        rows=window_rows,
        thresholds=thresholds,
        first_seed=UNDRIFTED_SEEDS,
    )
    return DetectorQuality(
        window_rows=window_rows, thresholds=thresholds, levels=measured, undrifted=undrifted
    )
