"""The manifest's `labels`: how a classifier's served labels are computed. Manifests written
before it existed read as "argmax", which is what they were served with."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from modelship.registry.manifest import Manifest


def _manifest(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "churn",
        "version": "v1",
        "created_at": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
        "task": "classification",
        "classes": [0, 1],
        "features": [{"name": "x", "kind": "numeric", "dtype": "float"}],
        "artifact": {"file": "model.joblib", "sha256": "0" * 64, "size_bytes": 1},
        "runtime": {"python": "3.11", "sklearn": "1.9.1", "numpy": "2.4", "joblib": "1.6"},
        "estimator": {"algorithm": "x", "params": {}},
        "metrics": {},
        "training_data": {"uri": "s3://b/k", "rows": 1, "target": "y"},
    }
    fields.update(changes)
    return fields


def test_a_manifest_without_labels_reads_as_argmax() -> None:
    assert Manifest.from_json(json.dumps(_manifest())).labels == "argmax"


def test_a_classifier_may_be_served_by_its_predict() -> None:
    manifest = Manifest.from_json(json.dumps(_manifest(labels="predict")))

    assert manifest.labels == "predict"
    assert json.loads(manifest.to_json())["labels"] == "predict"


@pytest.mark.parametrize(
    "changes",
    [
        {"labels": "vote"},
        {"labels": "predict", "task": "regression", "classes": None},
    ],
)
def test_other_rules_and_labels_without_classes_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="labels"):
        Manifest.from_json(json.dumps(_manifest(**changes)))
