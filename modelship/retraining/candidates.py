"""The challenger between training and registration: its model directory (the artifact the
manifest names, model.joblib or model.skops, its code.zip when it has one, and the manifest)
under candidates/<name>/<run>/ in S3, and a SageMaker job's model.tar.gz unpacked into one.
Every file is checked against the manifest before it is trusted."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

from modelship import names
from modelship.errors import IntegrityError, TrainingError
from modelship.registry.manifest import Manifest, read_manifest_dir
from modelship.registry.registry import verify_model_files


def model_files(manifest: Manifest) -> list[str]:
    """The files of a model directory besides its manifest."""
    files = [manifest.artifact.file]
    if manifest.code is not None:
        files.append(manifest.code.file)
    return files


def check_files(model_dir: Path, manifest: Manifest, where: str) -> None:
    """Each file the manifest names is present with its sha256 and size."""
    try:
        verify_model_files(model_dir, manifest)
    except IntegrityError as exc:
        raise TrainingError(f"{where}: {exc}") from None


def upload_candidate(s3: Any, bucket: str, prefix: str, model_dir: Path) -> Manifest:
    """Uploads the model files, then the manifest (a reader that finds the manifest finds
    the files it names)."""
    manifest = read_manifest_dir(model_dir)
    for file in [*model_files(manifest), names.MODEL_MANIFEST_FILE]:
        s3.upload_file(str(model_dir / file), bucket, prefix + file)
    return manifest


def download_candidate(
    s3: Any, bucket: str, prefix: str, target: Path, expected_sha256: str
) -> Manifest:
    """Downloads the candidate under `prefix` into `target` (emptied by the caller) and
    checks it is the one training filed."""
    target.mkdir(parents=True, exist_ok=True)
    manifest_path = target / names.MODEL_MANIFEST_FILE
    s3.download_file(bucket, prefix + names.MODEL_MANIFEST_FILE, str(manifest_path))
    manifest = read_manifest_dir(target)
    if manifest.artifact.sha256 != expected_sha256:
        raise TrainingError(f"candidate at {prefix} changed since training")
    for file in model_files(manifest):
        s3.download_file(bucket, prefix + file, str(target / file))
    check_files(target, manifest, f"candidate at {prefix}")
    return manifest


def extract_training_output(archive: Path, out: Path, uri: str) -> Manifest:
    """A SageMaker job's model.tar.gz -> a model directory in `out` (the manifest and the
    files it names; nothing else is extracted, and no member path is trusted)."""
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
        if names.MODEL_MANIFEST_FILE not in members:
            raise TrainingError(f"{uri} lacks {names.MODEL_MANIFEST_FILE}")
        _extract(tar, members[names.MODEL_MANIFEST_FILE], out)
        manifest = read_manifest_dir(out)
        for file in model_files(manifest):
            if file not in members:
                raise TrainingError(f"{uri} lacks {file}, which its manifest names")
            _extract(tar, members[file], out)
    check_files(out, manifest, uri)
    return manifest


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, out: Path) -> None:
    source = tar.extractfile(member)
    if source is None:
        raise TrainingError(f"{member.name} in the training output is not a regular file")
    with source, (out / Path(member.name).name).open("wb") as target:
        while chunk := source.read(1024 * 1024):
            target.write(chunk)
