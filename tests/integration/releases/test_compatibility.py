"""check_artifact with the new artifact file names and the model's code.zip."""

from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from modelship.errors import IncompatibleRelease, ModelNotFound
from modelship.registry.manifest import FeatureSpec
from modelship.registry.registry import Registry, code_key
from modelship.releases.compatibility import check_artifact
from tests.conftest import BUCKET
from tests.hand_built_models import write_model_dir


def _publish(s3: Any, tmp_path: Path, artifact_format: str = "joblib") -> Any:
    module = tmp_path / "compat_code.py"
    module.write_text("SCALE = 2\n")
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    write_model_dir(
        model,
        tmp_path / "model",
        features=(FeatureSpec(name="x", kind="numeric", dtype="float"),),
        task="classification",
        artifact_format=artifact_format,
        code=[module],
    )
    return Registry(s3, BUCKET).publish(tmp_path / "model")


def test_a_skops_artifact_with_code_passes(s3: Any, tmp_path: Path) -> None:
    manifest = _publish(s3, tmp_path, "skops")

    check_artifact(s3, Registry(s3, BUCKET), manifest, manifest.artifact.sha256)


def test_a_code_zip_that_does_not_match_is_refused(s3: Any, tmp_path: Path) -> None:
    manifest = _publish(s3, tmp_path)
    s3.put_object(
        Bucket=BUCKET, Key=code_key("byo", "v1"), Body=b"other", Metadata={"sha256": "0" * 64}
    )

    with pytest.raises(IncompatibleRelease, match=r"code\.zip .* does not match its manifest"):
        check_artifact(s3, Registry(s3, BUCKET), manifest, None)


def test_a_missing_code_zip_is_refused(s3: Any, tmp_path: Path) -> None:
    manifest = _publish(s3, tmp_path)
    s3.delete_object(Bucket=BUCKET, Key=code_key("byo", "v1"))

    with pytest.raises(ModelNotFound, match=r"no code\.zip"):
        check_artifact(s3, Registry(s3, BUCKET), manifest, None)
