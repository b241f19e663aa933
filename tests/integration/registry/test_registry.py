import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from modelship.errors import IntegrityError, ModelNotFound, VersionConflict
from modelship.registry.registry import Registry, artifact_key, manifest_key
from tests.conftest import BUCKET


def _retitle(model_dir: Path, tmp_path: Path, version: str) -> Path:
    """A copy of model_dir whose manifest carries another version id."""
    copy = tmp_path / f"copy-{version}"
    shutil.copytree(model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["version"] = version
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


def test_publish_then_list_show_and_resolve_latest(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    registry = Registry(s3, BUCKET)

    first = registry.publish(model_dir)
    registry.publish(_retitle(model_dir, tmp_path, "v2"))

    assert [e.version for e in registry.list_versions("churn")] == ["v1", "v2"]
    assert registry.list_models() == ["churn"]
    assert registry.resolve("churn", "latest") == "v2"
    assert registry.show("churn", "v1") == first


def test_second_publish_of_a_version_conflicts_and_overwrites_nothing(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    registry = Registry(s3, BUCKET)
    registry.publish(model_dir)
    before = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))
    other = tmp_path / "other"
    shutil.copytree(model_dir, other)

    with pytest.raises(VersionConflict, match="already published"):
        registry.publish(other)

    after = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))
    assert after["ETag"] == before["ETag"]
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="models/churn/v1/")["Versions"]
    assert len(versions) == 4  # artifact, card.md, card.html, manifest: no second write


class PrefixListingOnly:
    """S3 as a role whose s3:ListBucket carries an s3:prefix condition sees it: HeadObject of a
    missing key is 403 (S3 says 404 only to a caller allowed ListBucket, and HeadObject brings
    no s3:prefix), while ListObjectsV2 with a Prefix is allowed."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3
        self.heads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def head_object(self, **params: Any) -> Any:
        self.heads.append(params["Key"])
        try:
            return self.s3.head_object(**params)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "404":
                raise
            denied = {"Error": {"Code": "403", "Message": "Forbidden"}}
            raise ClientError(denied, "HeadObject") from None  # type: ignore[arg-type]


def test_publish_asks_whether_the_version_exists_by_listing_not_head_object(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    # Given a role that may list under models/ but gets 403 for HeadObject of a missing key
    role = PrefixListingOnly(s3)
    # ... and a neighbour whose key starts with the manifest's (not the manifest itself)
    s3.put_object(Bucket=BUCKET, Key=manifest_key("churn", "v1") + ".old", Body=b"{}")

    manifest = Registry(role, BUCKET).publish(model_dir)

    assert Registry(s3, BUCKET).show("churn", "v1") == manifest
    assert manifest_key("churn", "v1") not in role.heads
    # The version now exists: the same check sees it.
    with pytest.raises(VersionConflict, match="already published"):
        Registry(role, BUCKET).publish(_retitle(model_dir, tmp_path, "v1"))


def test_racing_publisher_is_stopped_by_the_conditional_put(s3: Any, model_dir: Path) -> None:
    # Another publisher wrote the artifact after our existence check: S3 refuses ours.
    registry = Registry(s3, BUCKET)
    s3.put_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"), Body=b"someone else's bytes")

    with pytest.raises(VersionConflict):
        registry.publish(model_dir)

    body = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))["Body"].read()
    assert body == b"someone else's bytes"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=manifest_key("churn", "v1"))


def test_publish_completes_after_an_interrupted_publish_of_the_same_bytes(
    s3: Any, model_dir: Path
) -> None:
    registry = Registry(s3, BUCKET)
    registry.publish(model_dir)
    s3.delete_object(Bucket=BUCKET, Key=manifest_key("churn", "v1"))  # died before the manifest

    manifest = registry.publish(model_dir)

    assert registry.show("churn", "v1") == manifest


def test_tampered_artifact_is_not_published(s3: Any, model_dir: Path) -> None:
    (model_dir / "model.joblib").write_bytes(b"not the model")

    with pytest.raises(IntegrityError, match="does not match its manifest"):
        Registry(s3, BUCKET).publish(model_dir)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")


def test_artifact_is_stored_with_its_sha256(s3: Any, model_dir: Path) -> None:
    manifest = Registry(s3, BUCKET).publish(model_dir)

    head = s3.head_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))

    assert head["Metadata"]["sha256"] == manifest.artifact.sha256


def test_unknown_model_and_version_are_reported(s3: Any) -> None:
    registry = Registry(s3, BUCKET)

    with pytest.raises(ModelNotFound, match="no published versions"):
        registry.resolve("churn", "latest")
    with pytest.raises(ModelNotFound, match="version v9 is not published"):
        registry.show("churn", "v9")


def _code_model_dir(tmp_path: Path, artifact_format: str = "joblib") -> Path:
    from sklearn.linear_model import LogisticRegression

    from modelship.registry.manifest import FeatureSpec
    from tests.hand_built_models import write_model_dir

    module = tmp_path / "user_code_mod.py"
    module.write_text("SCALE = 2\n")
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    out = tmp_path / "byo"
    write_model_dir(
        model,
        out,
        features=(FeatureSpec(name="x", kind="numeric", dtype="float"),),
        task="classification",
        artifact_format=artifact_format,
        code=[module],
    )
    return out


def test_code_zip_is_published_write_once_with_its_sha256_before_the_manifest(
    s3: Any, tmp_path: Path
) -> None:
    from modelship.registry.registry import card_key, code_key

    keys: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: keys.append(params["Key"])
    )
    model_dir = _code_model_dir(tmp_path, "skops")

    manifest = Registry(s3, BUCKET).publish(model_dir)

    assert keys == [
        artifact_key("byo", "v1", "model.skops"),
        code_key("byo", "v1"),
        card_key("byo", "v1"),
        card_key("byo", "v1", html=True),
        manifest_key("byo", "v1"),
    ]
    head = s3.head_object(Bucket=BUCKET, Key=code_key("byo", "v1"))
    assert manifest.code is not None
    assert head["Metadata"]["sha256"] == manifest.code.sha256
    assert head["ContentLength"] == manifest.code.size_bytes

    with pytest.raises(VersionConflict):
        Registry(s3, BUCKET).publish(model_dir)
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix="models/byo/v1/")["Versions"]
    assert len(versions) == 5  # artifact, code.zip, 2 cards, manifest: none written twice


def test_a_tampered_code_zip_is_not_published(s3: Any, tmp_path: Path) -> None:
    model_dir = _code_model_dir(tmp_path)
    (model_dir / "code.zip").write_bytes(b"PK not the code")

    with pytest.raises(IntegrityError, match=r"code\.zip does not match its manifest"):
        Registry(s3, BUCKET).publish(model_dir)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")


def test_a_missing_code_zip_is_not_published(s3: Any, tmp_path: Path) -> None:
    model_dir = _code_model_dir(tmp_path)
    (model_dir / "code.zip").unlink()

    with pytest.raises(IntegrityError, match="is missing"):
        Registry(s3, BUCKET).publish(model_dir)

    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="models/")
