"""detect_drift: a window of rows (and answers) judged against the manifest's training profile."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from modelship import names
from modelship.errors import ConfigurationError
from modelship.monitoring.drift import DriftReport, DriftThresholds, detect_drift
from modelship.monitoring.statistics import ks_test
from modelship.registry.manifest import CategoricalProfile, Manifest, NumericProfile
from modelship.training.training import profile_column

START = datetime(2026, 3, 1, 0, tzinfo=UTC)
END = datetime(2026, 3, 2, 0, tzinfo=UTC)
TRAIN = np.random.default_rng(11)
AMOUNTS = TRAIN.gamma(4.0, 10.0, 4000)
CALLS = TRAIN.poisson(1.5, 4000).astype(float)
PLANS = TRAIN.choice(["basic", "plus", "pro"], 4000, p=[0.5, 0.3, 0.2]).astype(object)
LABELS = TRAIN.choice(["0", "1"], 4000, p=[0.7, 0.3]).astype(object)


def manifest(**changes: Any) -> Manifest:
    fields: dict[str, Any] = {
        "name": "churn",
        "version": "v1",
        "created_at": START,
        "task": "classification",
        "classes": [0, 1],
        "features": [
            {"name": "amount", "kind": "numeric", "dtype": "float"},
            {"name": "calls", "kind": "numeric", "dtype": "int"},
            {
                "name": "plan",
                "kind": "categorical",
                "dtype": "str",
                "categories": ["basic", "plus", "pro"],
            },
        ],
        "artifact": {"file": "model.joblib", "sha256": "0" * 64, "size_bytes": 1},
        "runtime": {"python": "3.11", "sklearn": "1.9.1", "numpy": "2.4", "joblib": "1.6"},
        "estimator": {"algorithm": "x", "params": {}},
        "metrics": {},
        "training_data": {"uri": "s3://b/k", "rows": 4000, "target": "y"},
        "profile": {
            "amount": profile_column(AMOUNTS, "numeric"),
            "calls": profile_column(CALLS, "numeric"),
            "plan": profile_column(PLANS, "categorical"),
        },
        "prediction_profile": profile_column(LABELS, "categorical"),
    }
    fields.update(changes)
    return Manifest.model_validate(fields)


def window(
    n: int,
    seed: int = 1,
    *,
    scale: float = 10.0,
    calls: float = 1.5,
    plans: tuple[float, float, float] = (0.5, 0.3, 0.2),
    positive: float = 0.3,
) -> tuple[list[dict[str, Any]], list[int]]:
    rng = np.random.default_rng(seed)
    amount = rng.gamma(4.0, scale, n)
    call_counts = rng.poisson(calls, n)
    plan = rng.choice(["basic", "plus", "pro"], n, p=plans)
    rows = [
        {"amount": float(a), "calls": int(c), "plan": str(p)}
        for a, c, p in zip(amount, call_counts, plan, strict=True)
    ]
    return rows, [int(v) for v in rng.random(n) < positive]


def judge(
    rows: list[dict[str, Any]], predictions: list[Any] | None = None, **kwargs: Any
) -> DriftReport:
    chosen = kwargs.pop("manifest", None) or manifest()
    return detect_drift(chosen, rows, predictions, window_start=START, window_end=END, **kwargs)


def by_name(report: DriftReport) -> dict[str, Any]:
    return {f.feature: f for f in report.features}


def test_an_undrifted_window_is_judged_no_drift() -> None:
    rows, predictions = window(800)

    report = judge(rows, predictions, requests=120)

    assert report.verdict == "no_drift"
    assert report.drifted_features == []
    assert [f.feature for f in report.features] == [
        "amount",
        "calls",
        "plan",
        names.PREDICTION_FEATURE,
    ]
    assert [f.test for f in report.features] == ["ks", "ks", "chi2", "chi2"]
    assert all(f.psi < 0.05 for f in report.features)
    assert (report.rows, report.requests) == (800, 120)
    assert report.thresholds == {"psi": 0.2, "p_value": 0.01, "min_rows": 200.0}


def test_a_shifted_feature_is_named_and_scores_its_psi() -> None:
    rows, predictions = window(800, scale=16.0)

    report = judge(rows, predictions)
    amount = by_name(report)["amount"]

    assert report.verdict == "drift"
    assert report.drifted_features == ["amount"]
    assert amount.significant
    assert amount.drifted
    assert amount.psi >= 0.2
    assert report.score == pytest.approx(max(f.psi for f in report.features if f.significant))
    assert len(amount.bins) == len(amount.expected) == len(amount.observed) == 10
    assert sum(amount.observed) == pytest.approx(1.0)
    assert amount.observed[-1] > 0.3  # three times the top decile's training share


def test_p_values_are_bonferroni_corrected_over_the_tested_features() -> None:
    rows, predictions = window(400, seed=5, scale=11.0)

    report = judge(rows, predictions)
    profile = manifest().profile["amount"]
    assert isinstance(profile, NumericProfile)
    raw = ks_test(np.array([r["amount"] for r in rows]), quantiles=profile.quantiles)

    assert by_name(report)["amount"].p_value == pytest.approx(min(1.0, 4 * raw.p_value))
    assert by_name(report)["amount"].statistic == pytest.approx(raw.statistic)


def test_a_significant_but_small_change_is_not_drift() -> None:
    # 5,000 rows make a 4% shift significant; its PSI stays far below 0.2.
    rows, predictions = window(5000, seed=2, scale=10.4)

    amount = by_name(judge(rows, predictions))["amount"]

    assert amount.significant
    assert amount.psi < 0.2
    assert not amount.drifted


def test_the_prediction_distribution_is_judged_like_a_feature() -> None:
    rows, predictions = window(800, positive=0.6)

    report = judge(rows, predictions)
    prediction = by_name(report)[names.PREDICTION_FEATURE]

    assert report.drifted_features == [names.PREDICTION_FEATURE]
    assert prediction.kind == "categorical"
    assert prediction.bins == ["0", "1"]
    assert prediction.observed[1] == pytest.approx(sum(predictions) / 800)


def test_regression_predictions_are_judged_as_numbers() -> None:
    regression = manifest(
        task="regression", classes=None, prediction_profile=profile_column(AMOUNTS, "numeric")
    )
    rows, _ = window(600)
    answers = [float(v) for v in np.random.default_rng(3).gamma(4.0, 20.0, 600)]

    prediction = by_name(judge(rows, answers, manifest=regression))[names.PREDICTION_FEATURE]

    assert (prediction.kind, prediction.test, prediction.drifted) == ("numeric", "ks", True)


def test_without_predictions_or_their_profile_only_the_features_are_judged() -> None:
    rows, predictions = window(300)

    assert names.PREDICTION_FEATURE not in by_name(judge(rows, None))
    assert names.PREDICTION_FEATURE not in by_name(
        judge(rows, predictions, manifest=manifest(prediction_profile=None))
    )


def test_a_discrete_feature_is_compared_per_value_and_a_new_value_is_evidence() -> None:
    rows, predictions = window(600, seed=4)
    for row in rows[:90]:
        row["calls"] = 12  # never seen in training

    calls = by_name(judge(rows, predictions))["calls"]

    assert calls.bins[:3] == ["0", "1", "2"]
    assert calls.bins[-1] == "(not in training): 12"
    assert calls.expected[-1] == 0.0
    assert calls.observed[-1] == pytest.approx(0.15)
    assert calls.drifted


def test_a_category_unseen_in_training_is_drift_evidence() -> None:
    rows, predictions = window(600, seed=6)
    for row in rows[:120]:
        row["plan"] = "enterprise"

    plan = by_name(judge(rows, predictions))["plan"]

    assert plan.bins == ["basic", "plus", "pro", "(not in training): enterprise"]
    assert plan.test == "chi2"
    assert plan.significant
    assert plan.drifted


def test_a_constant_categorical_is_judged_by_psi_alone() -> None:
    constant = manifest(
        profile={"plan": profile_column(np.array(["basic"] * 50, dtype=object), "categorical")}
    )
    same = [{"plan": "basic"} for _ in range(300)]
    changed = [{"plan": "basic"} for _ in range(250)] + [{"plan": "pro"} for _ in range(50)]

    steady = by_name(judge(same, manifest=constant))["plan"]
    moved = by_name(judge(changed, manifest=constant))["plan"]

    assert (steady.test, steady.psi, steady.drifted) == ("none", 0.0, False)
    assert moved.test == "none"
    assert moved.psi > 0.2
    assert moved.drifted


def test_a_constant_numeric_feature_is_tested_against_its_step() -> None:
    constant = manifest(profile={"calls": profile_column(np.full(100, 2.0), "numeric")})

    same = by_name(judge([{"calls": 2} for _ in range(300)], manifest=constant))["calls"]
    moved = by_name(
        judge([{"calls": 2} for _ in range(200)] + [{"calls": 3}] * 100, manifest=constant)
    )["calls"]

    assert (same.test, same.statistic, same.drifted) == ("ks", 0.0, False)
    assert moved.statistic == pytest.approx(1 / 3)
    assert moved.drifted


def test_an_all_null_feature_is_reported_but_not_judged() -> None:
    rows, predictions = window(400)
    for row in rows:
        row["amount"] = None
        row["plan"] = float("nan")

    report = judge(rows, predictions)
    amount, plan = by_name(report)["amount"], by_name(report)["plan"]

    assert (amount.rows, amount.psi, amount.test, amount.drifted) == (0, 0.0, "none", False)
    assert (plan.rows, plan.psi, plan.test) == (0, 0.0, "none")
    assert amount.observed == [0.0] * 10
    assert [f.test for f in report.features] == ["none", "ks", "none", "chi2"]
    assert report.verdict == "no_drift"


def test_nulls_are_not_compared() -> None:
    rows, predictions = window(400)
    for row in rows[:100]:
        row["amount"] = None

    assert by_name(judge(rows, predictions))["amount"].rows == 300


def test_too_few_rows_are_insufficient_data_even_when_shifted() -> None:
    rows, predictions = window(150, scale=30.0)

    report = judge(rows, predictions)

    assert report.verdict == "insufficient_data"
    assert report.score == 0.0
    assert report.drifted_features == []
    assert not any(f.significant or f.drifted for f in report.features)
    assert by_name(report)["amount"].psi > 1.0  # still measured, for the report


def test_an_empty_window() -> None:
    report = judge([], [])

    assert (report.verdict, report.rows, report.score) == ("insufficient_data", 0, 0.0)
    assert all(f.rows == 0 and f.psi == 0.0 and f.test == "none" for f in report.features)


def test_an_older_profile_without_quantiles_is_judged_by_psi_alone() -> None:
    def old(profile: Any) -> Any:
        if isinstance(profile, NumericProfile):
            return profile.model_copy(update={"quantiles": (), "values": (), "value_fractions": ()})
        return profile

    older = manifest(
        profile={k: old(v) for k, v in manifest().profile.items()}, prediction_profile=None
    )
    steady, _ = window(600)
    shifted, _ = window(600, scale=16.0)

    calm = by_name(judge(steady, manifest=older))
    moved = judge(shifted, manifest=older)

    assert calm["amount"].test == "none"
    assert calm["amount"].p_value is None
    assert not calm["amount"].drifted
    assert moved.drifted_features == ["amount"]
    assert moved.score == pytest.approx(by_name(moved)["amount"].psi)
    assert by_name(moved)["plan"].test == "chi2"  # categorical profiles were always complete


def test_features_not_captured_or_not_profiled_are_not_judged() -> None:
    rows, predictions = window(300)
    partial = manifest(profile={"amount": manifest().profile["amount"]})

    report = judge(rows, predictions, manifest=partial, not_captured=["amount", "elsewhere"])

    assert [f.feature for f in report.features] == [names.PREDICTION_FEATURE]
    assert report.not_captured == ["amount"]


def test_bad_input_is_refused_with_what_is_wrong() -> None:
    rows, predictions = window(10)
    rows[3]["amount"] = "12.5"

    with pytest.raises(ValueError, match=r"amount: '12\.5' is not a number"):
        judge(rows, predictions)
    with pytest.raises(ValueError, match="9 predictions for 10 rows"):
        judge(window(10)[0], predictions[:9])
    with pytest.raises(ValueError, match="ends"):
        detect_drift(manifest(), [], None, window_start=END, window_end=START)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"psi": 0.0}, "PSI threshold"),
        ({"p_value": 1.5}, "p-value threshold"),
        ({"min_rows": 0}, "minimum rows"),
    ],
)
def test_thresholds_are_checked(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        DriftThresholds(**changes)


def test_lower_thresholds_find_smaller_changes() -> None:
    rows, predictions = window(800, seed=8, scale=11.5)

    default = judge(rows, predictions)
    sensitive = judge(rows, predictions, thresholds=DriftThresholds(psi=0.05, p_value=0.05))

    assert default.verdict == "no_drift"
    assert sensitive.verdict == "drift"
    assert sensitive.thresholds["psi"] == 0.05


def test_the_report_round_trips_through_json() -> None:
    rows, predictions = window(300, scale=16.0)
    report = judge(rows, predictions, not_captured=["plan"])

    assert DriftReport.model_validate_json(report.to_json()) == report


def test_categorical_profiles_without_a_category_of_the_schema() -> None:
    profile = CategoricalProfile(count=10, fractions={"basic": 0.6, "plus": 0.4})
    rows = [{"plan": "basic"}] * 150 + [{"plan": "plus"}] * 100 + [{"plan": "pro"}] * 2

    plan = by_name(judge(rows, manifest=manifest(profile={"plan": profile})))["plan"]

    assert plan.bins[-1] == "(not in training): pro"
    assert not plan.drifted  # two rows of 252: a trace, not drift
