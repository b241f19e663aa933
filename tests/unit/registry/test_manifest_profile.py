"""The training profile in the manifest: quantiles and exact values for drift checks, the
prediction profile, and manifests written before either still loading."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from modelship.registry.manifest import CategoricalProfile, Manifest, NumericProfile

OLD_NUMERIC = {
    "kind": "numeric",
    "count": 4,
    "mean": 1.5,
    "std": 1.1,
    "min": 0.0,
    "max": 3.0,
    "bin_edges": [0.0, 1.5, 3.0],
    "bin_fractions": [0.5, 0.5],
}


def _manifest(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "churn",
        "version": "v1",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
        "task": "classification",
        "classes": [0, 1],
        "features": [
            {"name": "x", "kind": "numeric", "dtype": "float"},
            {"name": "c", "kind": "categorical", "dtype": "str", "categories": ["a", "b"]},
        ],
        "artifact": {"file": "model.joblib", "sha256": "0" * 64, "size_bytes": 1},
        "runtime": {"python": "3.11", "sklearn": "1.9.1", "numpy": "2.4", "joblib": "1.6"},
        "estimator": {"algorithm": "x", "params": {}},
        "metrics": {},
        "training_data": {"uri": "s3://b/k", "rows": 4, "target": "y"},
        "profile": {
            "x": OLD_NUMERIC,
            "c": {"kind": "categorical", "count": 4, "fractions": {"a": 0.5, "b": 0.5}},
        },
    }
    fields.update(changes)
    return fields


def test_a_manifest_from_before_quantiles_and_prediction_profiles_loads() -> None:
    manifest = Manifest.from_json(json.dumps(_manifest()))

    numeric = manifest.profile["x"]
    assert isinstance(numeric, NumericProfile)
    assert (numeric.quantiles, numeric.values, numeric.value_fractions) == ((), (), ())
    assert manifest.prediction_profile is None


def test_prediction_profiles_round_trip_as_either_kind() -> None:
    labels = _manifest(
        prediction_profile={"kind": "categorical", "count": 4, "fractions": {"0": 1.0}}
    )
    numbers = _manifest(prediction_profile=OLD_NUMERIC, task="regression", classes=None)

    assert isinstance(Manifest.from_json(json.dumps(labels)).prediction_profile, CategoricalProfile)
    assert isinstance(Manifest.from_json(json.dumps(numbers)).prediction_profile, NumericProfile)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quantiles": [0.0, 1.0]}, "101 values"),
        ({"quantiles": [float(100 - k) for k in range(101)]}, "must not decrease"),
        ({"values": [0.0, 1.0], "value_fractions": [1.0]}, "same length"),
        ({"values": [1.0, 0.0], "value_fractions": [0.5, 0.5]}, "ascending"),
        ({"bin_fractions": [1.0]}, "one more entry"),
    ],
)
def test_inconsistent_profiles_are_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        NumericProfile.model_validate({**OLD_NUMERIC, **changes})


def test_lists_of_numbers_take_one_line_and_read_back_the_same() -> None:
    profile = {
        **OLD_NUMERIC,
        "quantiles": [k / 100 for k in range(101)],
        "values": [0.0, 1.0, 3.0],
        "value_fractions": [0.25, 0.5, 0.25],
    }
    manifest = Manifest.from_json(json.dumps(_manifest(profile={"x": profile})))

    text = manifest.to_json()

    assert '"quantiles": [0.0, 0.01, 0.02,' in text
    assert '"values": [0.0, 1.0, 3.0]' in text
    assert '"categories": [\n' in text  # lists of strings keep one entry per line
    assert Manifest.from_json(text) == manifest
    assert len(text) < 2600
