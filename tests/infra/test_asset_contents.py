"""No Lambda code asset carries the IAM evaluator: @cloud-copilot/iam-simulate is AGPL and
runs only as a development-time Node process (modelship/local/iam/evaluator.mjs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra_cdk.function_source import stage_function_source, stage_predict_source


@pytest.mark.parametrize(
    "stage",
    [
        stage_predict_source,
        lambda: stage_function_source(("release", "rollback")),
        lambda: stage_function_source(("retraining",)),
    ],
)
def test_no_asset_holds_the_evaluator_or_node_modules(stage: object, tmp_path: Path) -> None:
    staging: Path = stage()  # type: ignore[operator]
    files = [p.relative_to(staging).as_posix() for p in staging.rglob("*")]
    assert files, "the asset is empty"
    assert not [f for f in files if f.endswith((".mjs", ".js"))]
    assert not [f for f in files if "node_modules" in f.split("/")]
