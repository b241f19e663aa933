"""The drift detector on the reference dataset's drift knob, with fixed seeds (so the counts
are the same on every run): undrifted windows almost never alarm, strongly drifted ones
always do, and only features the knob moves are named. Margins come from the measured
figures in docs/monitoring.md (0 false alarms in 1,000 windows of 500 rows; every window
judged drift from drift 0.6 on)."""

from __future__ import annotations

import pytest

from modelship import names
from modelship.monitoring.detector_quality import (
    DEFAULT_WINDOW_ROWS,
    ReferenceModel,
    measure_detector_quality,
    measure_level,
    reference_model,
)
from modelship.monitoring.drift import DriftThresholds

# What generate_churn's drift moves: prices, support calls and contracts (and through the
# contracts, tenure and total charges), and so the model's answers.
MOVED = {
    "monthly_charges",
    "support_calls",
    "contract",
    "tenure_months",
    "total_charges",
    names.PREDICTION_FEATURE,
}


@pytest.fixture(scope="module")
def model() -> ReferenceModel:
    return reference_model()


def test_the_reference_models_manifest_carries_the_profiles(model: ReferenceModel) -> None:
    assert len(model.manifest.profile) == 10
    assert model.manifest.prediction_profile is not None


def test_at_most_one_percent_of_undrifted_windows_raise_an_alarm(model: ReferenceModel) -> None:
    undrifted = measure_level(
        model, 0.0, windows=200, rows=DEFAULT_WINDOW_ROWS, thresholds=DriftThresholds()
    )

    assert undrifted.windows == 200
    assert undrifted.rate <= 0.01
    assert undrifted.mean_score < 0.05


def test_strong_drift_is_found_in_every_window_and_named(model: ReferenceModel) -> None:
    strong = measure_level(
        model, 0.8, windows=40, rows=DEFAULT_WINDOW_ROWS, thresholds=DriftThresholds()
    )

    assert strong.rate >= 0.95
    assert strong.mean_score > 0.4
    assert set(strong.flagged) <= MOVED
    assert strong.flagged["support_calls"] >= 38
    assert strong.flagged["monthly_charges"] >= 38


def test_detection_grows_with_drift(model: ReferenceModel) -> None:
    quality = measure_detector_quality(
        model, windows_per_level=10, undrifted_windows=20, levels=(0.1, 0.5, 1.0)
    )

    rates = [level.rate for level in quality.levels]
    assert rates[0] <= 0.1
    assert rates[0] <= rates[1] <= rates[2]
    assert rates[2] == 1.0
    assert quality.false_alarm_rate == quality.undrifted.rate
    assert quality.window_rows == DEFAULT_WINDOW_ROWS


def test_a_window_too_small_for_the_dataset_is_refused(model: ReferenceModel) -> None:
    with pytest.raises(ValueError, match="at least 10 rows"):
        measure_detector_quality(model, window_rows=5)
