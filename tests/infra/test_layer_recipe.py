"""The layer ships exactly the versions the test suite runs against."""

from __future__ import annotations

from infra_cdk.function_source import REPO_ROOT
from infra_cdk.layer_recipe import LAYER_REQUIREMENTS, pinned_version, pinned_versions


def test_layer_pins_match_the_lock_file() -> None:
    layer = pinned_versions(LAYER_REQUIREMENTS)
    lock = pinned_versions(REPO_ROOT / "requirements.lock")
    assert {"scikit-learn", "numpy", "scipy", "boto3", "pydantic"} <= set(layer)
    mismatched = {name: (v, lock.get(name)) for name, v in layer.items() if lock.get(name) != v}
    assert mismatched == {}


def test_scikit_learn_version_comes_from_the_recipe() -> None:
    assert pinned_version("scikit_learn") == pinned_versions()["scikit-learn"]
