"""The training profile a manifest carries for drift checks: deciles, 101 percentiles, and the
exact distribution of a feature with few distinct values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelship.registry.manifest import CategoricalProfile, NumericProfile, read_manifest_dir
from modelship.training.churn import generate_churn
from modelship.training.profiles import prediction_profile, profile_column
from modelship.training.tables import Table
from modelship.training.training import TrainingSpec, train, write_model


def test_a_continuous_feature_keeps_its_percentiles_not_its_values() -> None:
    values = np.random.default_rng(1).normal(50.0, 10.0, 3000)

    profile = profile_column(values, "numeric")

    assert isinstance(profile, NumericProfile)
    assert len(profile.quantiles) == 101
    assert profile.quantiles[0] == pytest.approx(values.min(), rel=1e-6)
    assert profile.quantiles[50] == pytest.approx(np.median(values), rel=1e-6)
    assert profile.quantiles[100] == pytest.approx(values.max(), rel=1e-6)
    assert profile.values == ()
    assert len(profile.bin_fractions) == 10


def test_a_feature_with_few_distinct_values_keeps_each_values_share() -> None:
    values = np.array([0.0] * 50 + [1.0] * 30 + [4.0] * 20)

    profile = profile_column(values, "numeric")

    assert isinstance(profile, NumericProfile)
    assert profile.values == (0.0, 1.0, 4.0)
    assert profile.value_fractions == (0.5, 0.3, 0.2)
    assert profile.quantiles[49] == 0.0
    assert profile.quantiles[100] == 4.0


def test_twenty_distinct_values_are_discrete_twenty_one_are_not() -> None:
    twenty = profile_column(np.arange(200.0) % 20, "numeric")
    twenty_one = profile_column(np.arange(210.0) % 21, "numeric")

    assert isinstance(twenty, NumericProfile)
    assert isinstance(twenty_one, NumericProfile)
    assert len(twenty.values) == 20
    assert twenty_one.values == ()


def test_a_constant_feature() -> None:
    profile = profile_column(np.full(40, 7.0), "numeric")

    assert isinstance(profile, NumericProfile)
    assert profile.quantiles == (7.0,) * 101
    assert (profile.values, profile.value_fractions) == ((7.0,), (1.0,))


def test_categories_keep_their_shares() -> None:
    profile = profile_column(np.array(["b", "a", "b", "b"], dtype=object), "categorical")

    assert profile == CategoricalProfile(count=4, fractions={"a": 0.25, "b": 0.75})


def test_a_trained_classifier_profiles_its_answers_on_the_holdout() -> None:
    trained = train(generate_churn(n_rows=1500, seed=3), TrainingSpec(name="churn"))
    x = generate_churn(n_rows=1500, seed=3).features_matrix(trained.holdout_rows)

    profile = trained.prediction_profile

    assert isinstance(profile, CategoricalProfile)
    assert profile.count == len(trained.holdout_rows)
    assert profile.fractions["1"] == pytest.approx(np.mean(trained.pipeline.predict(x) == 1))
    assert set(profile.fractions) <= {"0", "1"}


def test_a_trained_regressor_profiles_its_numbers(tmp_path: Path) -> None:
    table = generate_churn(n_rows=800, seed=4)
    regression = Table(
        columns={**table.columns, "churned": table.columns["monthly_charges"] * 2.0},
        kinds=dict(table.kinds),
        target="churned",
    )

    manifest = write_model(
        train(regression, TrainingSpec(name="spend", algorithm="ridge")), tmp_path
    )

    assert isinstance(manifest.prediction_profile, NumericProfile)
    assert len(manifest.prediction_profile.quantiles) == 101
    assert read_manifest_dir(tmp_path).prediction_profile == manifest.prediction_profile


def test_answers_without_a_single_distribution_have_no_profile() -> None:
    assert prediction_profile("predict_only", np.array([1.0, 2.0])) is None
    assert prediction_profile("regression", np.ones((5, 2))) is None
    assert prediction_profile("classification", np.array([])) is None
    assert prediction_profile("classification", np.array([True, False, True])) == (
        CategoricalProfile(count=3, fractions={"False": 1 / 3, "True": 2 / 3})
    )
