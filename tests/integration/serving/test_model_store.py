import json
import shutil
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import sklearn
import sklearn.base

from modelship.digest import file_digest
from modelship.errors import IncompatibleModel, IntegrityError, ModelNotFound, ModelUnavailable
from modelship.registry.registry import Registry, artifact_key
from modelship.serving.model_store import ModelStore
from modelship.training.churn import generate_churn
from tests.conftest import BUCKET, GetObjectCounter


def _store(s3: Any, cache: Path, max_bytes: int = 50 * 1024 * 1024) -> ModelStore:
    return ModelStore(s3, BUCKET, cache, max_bytes)


def _publish_variant(s3: Any, model_dir: Path, tmp_path: Path, version: str, **changes: Any) -> Any:
    copy = tmp_path / f"variant-{version}"
    shutil.copytree(model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["version"] = version
    for path, value in changes.items():
        target = manifest
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[part]
        target[leaf] = value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return Registry(s3, BUCKET).publish(copy)


def test_cold_start_from_s3_predicts_exactly_like_the_pipeline(
    s3: Any, published: Any, reference_model_dir: Path, tmp_path: Path
) -> None:
    loaded = _store(s3, tmp_path / "cache").fetch("churn", "v1", published.artifact.sha256)
    table = generate_churn(n_rows=50, seed=123)
    rows = loaded.schema.validate(table.records())
    pipeline = joblib.load(reference_model_dir / "model.joblib")

    served = loaded.estimator.predict_proba(loaded.schema.to_matrix(rows))

    assert loaded.source == "s3"
    assert loaded.seconds > 0
    assert np.array_equal(served, pipeline.predict_proba(table.features_matrix()))


def test_warm_tmp_skips_s3_entirely(
    s3: Any, published: Any, tmp_path: Path, get_object_counter: GetObjectCounter
) -> None:
    sha = published.artifact.sha256
    _store(s3, tmp_path / "cache").fetch("churn", "v1", sha)
    calls_after_first = len(get_object_counter.keys)

    second = _store(s3, tmp_path / "cache").fetch("churn", "v1", sha)  # a new process, same /tmp

    assert calls_after_first == 2  # manifest + artifact
    assert second.source == "tmp"
    assert len(get_object_counter.keys) == calls_after_first


def test_memory_is_used_within_a_process(s3: Any, published: Any, tmp_path: Path) -> None:
    store = _store(s3, tmp_path / "cache")
    first = store.fetch("churn", "v1", published.artifact.sha256)

    again = store.fetch("churn", "v1", published.artifact.sha256)

    assert again.source == "memory"
    assert again.estimator is first.estimator


def test_latest_resolves_through_the_registry(s3: Any, published: Any, tmp_path: Path) -> None:
    loaded = _store(s3, tmp_path / "cache").fetch("churn", "latest")

    assert loaded.manifest.version == "v1"


def test_corrupted_artifact_is_refused_and_never_cached(
    s3: Any, published: Any, tmp_path: Path
) -> None:
    good = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))["Body"].read()
    corrupted = bytes([good[0] ^ 0xFF]) + good[1:]
    s3.put_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"), Body=corrupted)

    with pytest.raises(IntegrityError) as caught:
        _store(s3, tmp_path / "cache").fetch("churn", "v1", published.artifact.sha256)

    assert caught.value.reason == "sha256_mismatch"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_truncated_artifact_is_refused(s3: Any, published: Any, tmp_path: Path) -> None:
    good = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"), Body=good[: len(good) // 2])

    with pytest.raises(IntegrityError) as caught:
        _store(s3, tmp_path / "cache").fetch("churn", "v1")

    assert caught.value.reason == "truncated_artifact"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_release_pinned_sha_must_match_the_registry(
    s3: Any, published: Any, tmp_path: Path
) -> None:
    with pytest.raises(IntegrityError, match="the release pins"):
        _store(s3, tmp_path / "cache").fetch("churn", "v1", "0" * 64)


def test_damaged_tmp_cache_is_discarded_and_refetched(
    s3: Any, published: Any, tmp_path: Path, get_object_counter: GetObjectCounter
) -> None:
    sha = published.artifact.sha256
    store = _store(s3, tmp_path / "cache")
    store.fetch("churn", "v1", sha)
    cached = store.entry_dir("churn", "v1", sha) / "model.joblib"
    cached.write_bytes(b"bit rot")

    loaded = _store(s3, tmp_path / "cache").fetch("churn", "v1", sha)

    assert loaded.source == "s3"
    assert file_digest(cached)[0] == sha


def test_other_scikit_learn_version_is_refused_naming_both(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    _publish_variant(s3, model_dir, tmp_path, "old", runtime__sklearn="1.0.2")

    with pytest.raises(IncompatibleModel) as caught:
        _store(s3, tmp_path / "cache").fetch("churn", "old")

    assert "1.0.2" in str(caught.value)
    assert sklearn.__version__ in str(caught.value)
    assert caught.value.reason == "incompatible_sklearn"


def test_pickle_from_another_scikit_learn_is_refused_even_if_the_manifest_lies(
    s3: Any, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = joblib.load(model_dir / "model.joblib")
    monkeypatch.setattr(sklearn.base, "__version__", "1.0.2")
    joblib.dump(pipeline, model_dir / "model.joblib")
    monkeypatch.undo()
    sha, size = file_digest(model_dir / "model.joblib")
    _publish_variant(
        s3, model_dir, tmp_path, "liar", artifact__sha256=sha, artifact__size_bytes=size
    )

    with pytest.raises(IncompatibleModel, match=r"pickled with scikit-learn 1\.0\.2"):
        _store(s3, tmp_path / "cache").fetch("churn", "liar")


def test_manifest_schema_that_does_not_fit_the_estimator_is_refused(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    fewer = manifest["features"][:-1]
    _publish_variant(s3, model_dir, tmp_path, "narrow", features=fewer)

    with pytest.raises(IncompatibleModel) as caught:
        _store(s3, tmp_path / "cache").fetch("churn", "narrow")

    assert caught.value.reason == "manifest_schema_mismatch"
    assert "takes 10 features" in str(caught.value)


def test_changed_categories_are_refused(s3: Any, model_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((model_dir / "manifest.json").read_text())
    features = manifest["features"]
    contract = next(f for f in features if f["name"] == "contract")
    contract["categories"] = ["month_to_month", "one_year"]
    _publish_variant(s3, model_dir, tmp_path, "cats", features=features)

    with pytest.raises(IncompatibleModel, match="categories of 'contract'"):
        _store(s3, tmp_path / "cache").fetch("churn", "cats")


def test_cache_evicts_other_versions_least_recently_used_first(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    size = (model_dir / "model.joblib").stat().st_size
    manifests = [_publish_variant(s3, model_dir, tmp_path, f"v{n}") for n in (2, 3, 4)]
    # Artifact + manifest, twice (the manifest as published, profiles included), with a
    # little slack: not room for a third version.
    manifest_bytes = len(manifests[0].to_json().encode())
    room_for_two = 2 * (size + manifest_bytes) + 1024
    store = _store(s3, tmp_path / "cache", max_bytes=room_for_two)

    for manifest in manifests:
        store.fetch("churn", manifest.version, manifest.artifact.sha256)

    cached_versions = sorted(
        p.name for p in (tmp_path / "cache" / "churn").iterdir() if any(p.iterdir())
    )
    assert cached_versions == ["v3", "v4"]
    assert store.cached_bytes() <= room_for_two


def test_artifact_larger_than_the_cache_is_refused(s3: Any, published: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable) as caught:
        _store(s3, tmp_path / "cache", max_bytes=100).fetch("churn", "v1")

    assert caught.value.reason == "artifact_too_large"


def test_missing_version_is_model_not_found(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        _store(s3, tmp_path / "cache").fetch("churn", "v404")


def test_cache_share_follows_ephemeral_storage(s3: Any, tmp_path: Path) -> None:
    store = ModelStore.for_ephemeral_storage(s3, BUCKET, tmp_path, ephemeral_mb=1024)

    assert store.max_cache_bytes == int(1024 * 1024 * 1024 * 0.8)


def test_tmp_full_while_writing_the_manifest_leaves_no_file_and_is_tmp_full(
    s3: Any, published: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    real = tempfile.NamedTemporaryFile

    def full_at_the_manifest(*args: Any, **kwargs: Any) -> Any:
        handle = real(*args, **kwargs)
        if kwargs.get("prefix") == ".write-":

            def write(data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

            handle.write = write
        return handle

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full_at_the_manifest)

    with pytest.raises(ModelUnavailable) as caught:
        _store(s3, tmp_path / "cache").fetch("churn", "v1", published.artifact.sha256)

    assert caught.value.reason == "tmp_full"
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
