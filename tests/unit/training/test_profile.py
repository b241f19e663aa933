"""The training profile a manifest carries for drift checks: deciles, 101 percentiles, and the
exact distribution of a feature with few distinct values."""

from __future__ import annotations

import numpy as np
import pytest

from modelship.registry.manifest import CategoricalProfile, NumericProfile
from modelship.training.training import profile_column


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
