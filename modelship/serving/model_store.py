"""Loads a pinned model: memory, then the /tmp cache, then S3 with integrity checks.

A file (the artifact, the model's code.zip) is trusted only after its bytes hashed to the
manifest's sha256, and only a verified file is ever renamed into the cache; the manifest is
written into a cache entry last, so a partial download never sits where a later cold start
would look. A /tmp that cannot take the files (full: ENOSPC) makes the model unavailable
(`tmp_full`) and its half-written entry is removed.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import sklearn
from botocore.exceptions import BotoCoreError, ClientError

from modelship.errors import (
    IncompatibleModel,
    IntegrityError,
    ModelNotFound,
    ModelshipError,
    ModelUnavailable,
)
from modelship.names import MODEL_CODE_FILE, MODEL_MANIFEST_FILE
from modelship.registry.manifest import ArtifactInfo, CodeInfo, Manifest
from modelship.registry.registry import Registry, artifact_key, code_key, verified_file
from modelship.serving.artifacts import load_estimator, unpack_code
from modelship.serving.schema import RowSchema

logger = logging.getLogger(__name__)

Source = Literal["memory", "tmp", "s3"]
CHUNK_BYTES = 1 << 20
# Part of /tmp left for everything else the function writes.
CACHE_SHARE_OF_EPHEMERAL = 0.8
# The model's code.zip is unpacked here, inside its cache entry.
CODE_DIR = "code"


@dataclass(frozen=True)
class LoadedModel:
    manifest: Manifest
    estimator: Any
    schema: RowSchema
    source: Source
    seconds: float


class ModelStore:
    def __init__(self, s3: Any, bucket: str, cache_dir: Path, max_cache_bytes: int) -> None:
        self.registry = Registry(s3, bucket)
        self.s3 = s3
        self.bucket = bucket
        self.cache_dir = cache_dir
        self.max_cache_bytes = max_cache_bytes
        self._memory: dict[tuple[str, str, str], LoadedModel] = {}

    @classmethod
    def for_ephemeral_storage(
        cls, s3: Any, bucket: str, cache_dir: Path, ephemeral_mb: int
    ) -> ModelStore:
        return cls(
            s3, bucket, cache_dir, int(ephemeral_mb * 1024 * 1024 * CACHE_SHARE_OF_EPHEMERAL)
        )

    def fetch(self, name: str, version: str, sha256: str | None = None) -> LoadedModel:
        """The model for (name, version). With `sha256` given (a release pins it) a warm
        /tmp needs no S3 call at all."""
        started = time.perf_counter()
        if sha256:
            cached = self._memory.get((name, version, sha256))
            if cached is not None:
                return replace(cached, source="memory", seconds=time.perf_counter() - started)
            from_tmp = self._from_tmp(name, version, sha256)
            if from_tmp is not None:
                return self._remember(from_tmp, "tmp", started)
        manifest = self._manifest_from_s3(name, version)
        if sha256 and manifest.artifact.sha256 != sha256:
            raise IntegrityError(
                f"{name}/{manifest.version}: the registry's manifest has sha256 "
                f"{manifest.artifact.sha256[:12]}..., the release pins {sha256[:12]}...",
                reason="sha256_mismatch",
            )
        key = (manifest.name, manifest.version, manifest.artifact.sha256)
        if key in self._memory:
            return replace(
                self._memory[key], source="memory", seconds=time.perf_counter() - started
            )
        check_runtime(manifest)
        try:
            artifact, code_dir = self._download(manifest)
        except OSError as exc:
            # /tmp full (or unwritable): the entry holds nothing trusted; give the space back.
            shutil.rmtree(self.entry_dir(*key), ignore_errors=True)
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            raise ModelUnavailable(
                f"cannot write {manifest.name}/{manifest.version} to the /tmp cache: "
                f"{exc.strerror or exc}",
                reason="tmp_full" if full else "cache_unwritable",
            ) from None
        return self._remember(self._load(manifest, artifact, code_dir), "s3", started)

    def _remember(self, pair: tuple[Manifest, Any], source: Source, started: float) -> LoadedModel:
        manifest, estimator = pair
        loaded = LoadedModel(
            manifest=manifest,
            estimator=estimator,
            schema=RowSchema(manifest.features, manifest.input_format),
            source=source,
            seconds=time.perf_counter() - started,
        )
        # One model per process is the normal case; keep only the latest in memory.
        self._memory = {(manifest.name, manifest.version, manifest.artifact.sha256): loaded}
        return loaded

    def entry_dir(self, name: str, version: str, sha256: str) -> Path:
        return self.cache_dir / name / version / sha256

    def _from_tmp(self, name: str, version: str, sha256: str) -> tuple[Manifest, Any] | None:
        entry = self.entry_dir(name, version, sha256)
        manifest_path = entry / MODEL_MANIFEST_FILE
        if not manifest_path.is_file():  # written last: without it the entry is incomplete
            return None
        try:
            manifest = Manifest.from_json(manifest_path.read_bytes())
            if manifest.artifact.sha256 != sha256:
                raise IntegrityError("cached manifest names another artifact")
            artifact = entry / manifest.artifact.file
            verified_file(artifact, manifest.artifact)
            code_dir = None
            if manifest.code is not None:
                # Unpacked again from the verified zip: the unpacked files are not hashed.
                code_dir = unpack_code(entry / MODEL_CODE_FILE, manifest, entry / CODE_DIR)
            check_runtime(manifest)
        except (ValueError, OSError, IntegrityError) as exc:
            # Whatever damaged the cache, the registry still has the truth: drop and refetch.
            logger.warning("discarding cache entry %s: %s", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
            return None
        os.utime(entry)  # recency for eviction
        return self._load(manifest, artifact, code_dir)

    def _manifest_from_s3(self, name: str, version: str) -> Manifest:
        try:
            return self.registry.show(name, version)
        except ModelshipError:
            raise
        except (ClientError, BotoCoreError) as exc:
            raise ModelUnavailable(
                f"cannot read the manifest of {name}/{version}: {exc}", reason="storage_error"
            ) from None
        except ValueError as exc:
            raise IntegrityError(
                f"the manifest of {name}/{version} is invalid: {exc}", reason="invalid_manifest"
            ) from None

    def _download(self, manifest: Manifest) -> tuple[Path, Path | None]:
        """The verified artifact and the unpacked code directory (if the model ships code)
        in the cache entry; the manifest is written last, marking the entry complete."""
        code = manifest.code
        size = manifest.artifact.size_bytes + (code.size_bytes if code else 0)
        if size > self.max_cache_bytes:
            raise ModelUnavailable(
                f"{manifest.name}/{manifest.version} is {size} bytes, more than the "
                f"{self.max_cache_bytes} bytes of /tmp the cache may use; raise the function's "
                "ephemeral storage",
                reason="artifact_too_large",
            )
        entry = self.entry_dir(manifest.name, manifest.version, manifest.artifact.sha256)
        self._make_room(size, keep=entry)
        entry.mkdir(parents=True, exist_ok=True)
        (entry / MODEL_MANIFEST_FILE).unlink(missing_ok=True)
        artifact = self._download_file(
            manifest,
            artifact_key(manifest.name, manifest.version, manifest.artifact.file),
            manifest.artifact,
            entry / manifest.artifact.file,
        )
        code_dir = None
        if code is not None:
            zipped = self._download_file(
                manifest, code_key(manifest.name, manifest.version), code, entry / MODEL_CODE_FILE
            )
            code_dir = unpack_code(zipped, manifest, entry / CODE_DIR)
        _write_atomic(entry / MODEL_MANIFEST_FILE, manifest.to_json().encode())
        return artifact, code_dir

    def _download_file(
        self, manifest: Manifest, key: str, expected: ArtifactInfo | CodeInfo, final: Path
    ) -> Path:
        """Streams `key` into a temp file beside `final`, hashing as it goes; renamed to
        `final` only when its size and sha256 are the manifest's."""
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
            dir=final.parent, prefix=".download-", delete=False
        )
        temp = Path(handle.name)
        try:
            with handle:
                digest, received = _stream(self.s3, self.bucket, manifest, key, handle)
                handle.flush()
                os.fsync(handle.fileno())
            if received != expected.size_bytes:
                raise IntegrityError(
                    f"{manifest.name}/{manifest.version}: received {received} of "
                    f"{expected.size_bytes} bytes of {key}",
                    reason="truncated_artifact",
                )
            if digest != expected.sha256:
                raise IntegrityError(
                    f"{manifest.name}/{manifest.version}: {key} has sha256 {digest[:12]}..., "
                    f"the manifest says {expected.sha256[:12]}...",
                    reason="sha256_mismatch",
                )
            temp.replace(final)
            return final
        finally:
            temp.unlink(missing_ok=True)

    def _make_room(self, needed: int, keep: Path) -> None:
        """Evicts other cached versions, least recently used first, until `needed` fits."""
        entries = sorted(self._cache_entries(), key=lambda e: e[1])
        used = sum(size for _, _, size in entries)
        for path, _, size in entries:
            if used + needed <= self.max_cache_bytes:
                break
            if path == keep:
                continue
            logger.info("evicting cached model %s (%d bytes)", path, size)
            shutil.rmtree(path, ignore_errors=True)
            used -= size

    def _cache_entries(self) -> list[tuple[Path, float, int]]:
        if not self.cache_dir.is_dir():
            return []
        entries = []
        for entry in self.cache_dir.glob("*/*/*"):
            if entry.is_dir():
                size = sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
                entries.append((entry, entry.stat().st_mtime, size))
        return entries

    def cached_bytes(self) -> int:
        return sum(size for _, _, size in self._cache_entries())

    def _load(
        self, manifest: Manifest, path: Path, code_dir: Path | None = None
    ) -> tuple[Manifest, Any]:
        return manifest, load_estimator(manifest, path, code_dir)


def check_runtime(manifest: Manifest) -> None:
    """Pickles are only supported within the same scikit-learn version."""
    if manifest.runtime.sklearn != sklearn.__version__:
        raise IncompatibleModel(
            f"{manifest.name}/{manifest.version} was trained with scikit-learn "
            f"{manifest.runtime.sklearn}; this runtime has scikit-learn {sklearn.__version__}",
            reason="incompatible_sklearn",
        )


def _stream(s3: Any, bucket: str, manifest: Manifest, key: str, handle: Any) -> tuple[str, int]:
    digest = hashlib.sha256()
    received = 0
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        for chunk in body.iter_chunks(CHUNK_BYTES):
            digest.update(chunk)
            handle.write(chunk)
            received += len(chunk)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in {"NoSuchKey", "404"}:
            raise ModelNotFound(
                f"{manifest.name}/{manifest.version} has a manifest but nothing at {key}",
                reason="artifact_missing",
            ) from None
        raise ModelUnavailable(f"cannot download {key}: {exc}", reason="storage_error") from None
    except BotoCoreError as exc:
        # IncompleteReadError and ResponseStreamingError land here: a cut connection.
        raise IntegrityError(
            f"download of {key} broke off after {received} bytes: {exc}",
            reason="truncated_artifact",
        ) from None
    return digest.hexdigest(), received


def _write_atomic(path: Path, data: bytes) -> None:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        dir=path.parent, prefix=".write-", delete=False
    )
    temp = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)  # a failed write leaves no partial file
