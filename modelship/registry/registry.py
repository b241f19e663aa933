"""The model registry in S3: immutable versions under models/<name>/<version>/.

Publishing is write-once: every object (the artifact, the model's code.zip if it has one, the
model card as card.md and card.html, the manifest) is put with `IfNoneMatch='*'`, so S3
itself refuses to overwrite an existing version even when two publishers race.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from modelship.digest import file_digest
from modelship.errors import IntegrityError, ModelNotFound, VersionConflict
from modelship.names import (
    MODEL_ARTIFACT_FILE,
    MODEL_CARD_FILE,
    MODEL_CARD_HTML_FILE,
    MODEL_CODE_FILE,
    MODEL_MANIFEST_FILE,
    MODELS_PREFIX,
)
from modelship.registry.manifest import ArtifactInfo, CodeInfo, Manifest, read_manifest_dir
from modelship.registry.versions import check_model_name, check_version_id

if TYPE_CHECKING:
    from modelship.registry.card import CardContext

LATEST = "latest"


def version_prefix(name: str, version: str) -> str:
    return f"{MODELS_PREFIX}/{name}/{version}/"


def artifact_key(name: str, version: str, file: str = MODEL_ARTIFACT_FILE) -> str:
    """Key of a version's artifact; `file` is the manifest's artifact.file (model.skops for
    skops artifacts)."""
    return version_prefix(name, version) + file


def code_key(name: str, version: str) -> str:
    return version_prefix(name, version) + MODEL_CODE_FILE


def manifest_key(name: str, version: str) -> str:
    return version_prefix(name, version) + MODEL_MANIFEST_FILE


def card_key(name: str, version: str, *, html: bool = False) -> str:
    """Key of a version's model card: card.md, or card.html with `html`."""
    return version_prefix(name, version) + (MODEL_CARD_HTML_FILE if html else MODEL_CARD_FILE)


@dataclass(frozen=True)
class VersionEntry:
    name: str
    version: str
    published_at: datetime


class Registry:
    """Publish, list, show and resolve model versions in one bucket."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3 = s3
        self.bucket = bucket

    def publish(self, model_dir: Path, card: CardContext | None = None) -> Manifest:
        """Uploads the artifact, then code.zip (if the model ships code), then the model card
        (card.md, card.html), then manifest.json, all write-once, the model's files checked
        against the manifest's sha256 and size before any is sent. The manifest goes last: a
        version without one is not published, so readers never see a half-written version.

        `card` is what a retraining run adds to the card (champion on the same holdout,
        gates); without it the card shows the previously registered version's recorded
        metrics, labelled as not compared on the same rows."""
        manifest = read_manifest_dir(model_dir)
        check_model_name(manifest.name)
        check_version_id(manifest.version)
        uploads = [
            (
                verified_file(model_dir / manifest.artifact.file, manifest.artifact),
                artifact_key(manifest.name, manifest.version, manifest.artifact.file),
                manifest.artifact.sha256,
                "application/octet-stream",
            )
        ]
        if manifest.code is not None:
            uploads.append(
                (
                    verified_file(model_dir / manifest.code.file, manifest.code),
                    code_key(manifest.name, manifest.version),
                    manifest.code.sha256,
                    "application/zip",
                )
            )
        if self._exists(manifest_key(manifest.name, manifest.version)):
            raise self._conflict(manifest)
        # Imported here: the predict function reads versions and never writes a card.
        from modelship.registry.card import ModelCard

        previous = self._previous(manifest) if card is None else None
        model_card = ModelCard(manifest, card, previous)
        for path, key, sha256, content_type in uploads:
            with path.open("rb") as body:
                self._put_once(key, body, sha256, manifest, content_type=content_type)
        for html, text, content_type in (
            (False, model_card.markdown(), "text/markdown; charset=utf-8"),
            (True, model_card.html(), "text/html; charset=utf-8"),
        ):
            data = text.encode()
            # Same rule as the artifact: a retried publish finding these bytes goes on.
            digest = hashlib.sha256(data).hexdigest()
            key = card_key(manifest.name, manifest.version, html=html)
            self._put_once(key, data, digest, manifest, content_type=content_type)
        self._put_once(
            manifest_key(manifest.name, manifest.version),
            manifest.to_json().encode(),
            None,
            manifest,
            content_type="application/json",
        )
        return manifest

    def _put_once(
        self, key: str, body: Any, sha256: str | None, manifest: Manifest, content_type: str
    ) -> None:
        extra: dict[str, Any] = {}
        if sha256 is not None:
            # S3 checks the upload against this digest and stores it with the object.
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(sha256)).decode()
            extra["Metadata"] = {"sha256": sha256}
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                IfNoneMatch="*",
                ContentType=content_type,
                **extra,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                if sha256 is not None and self._artifact_matches(key, sha256):
                    return  # an earlier publish died between the two puts; same bytes
                raise self._conflict(manifest) from None
            raise

    def _previous(self, manifest: Manifest) -> Manifest | None:
        """The version registered most recently before this one, if its manifest reads."""
        earlier = [e for e in self.list_versions(manifest.name) if e.version != manifest.version]
        if not earlier:
            return None
        try:
            return self.show(manifest.name, earlier[-1].version)
        except (ModelNotFound, IntegrityError, ValidationError):
            return None  # an unreadable neighbour does not stop a publish; the card says less

    def _artifact_matches(self, key: str, sha256: str) -> bool:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return bool(head.get("Metadata", {}).get("sha256") == sha256)

    def _conflict(self, manifest: Manifest) -> VersionConflict:
        return VersionConflict(
            f"model {manifest.name} version {manifest.version} is already published in "
            f"s3://{self.bucket}/{version_prefix(manifest.name, manifest.version)}; versions "
            "are immutable, train again or pass a new --version"
        )

    def _exists(self, key: str) -> bool:
        return object_exists(self.s3, self.bucket, key)

    def list_versions(self, name: str) -> list[VersionEntry]:
        """Published versions (those with a manifest), oldest first."""
        check_model_name(name)
        entries = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{MODELS_PREFIX}/{name}/"):
            for item in page.get("Contents", []):
                parts = item["Key"].split("/")
                if len(parts) == 4 and parts[3] == MODEL_MANIFEST_FILE:
                    entries.append(VersionEntry(name, parts[2], item["LastModified"]))
        return sorted(entries, key=lambda e: (e.published_at, e.version))

    def list_models(self) -> list[str]:
        response = self.s3.list_objects_v2(
            Bucket=self.bucket, Prefix=f"{MODELS_PREFIX}/", Delimiter="/"
        )
        return sorted(p["Prefix"].split("/")[1] for p in response.get("CommonPrefixes", []))

    def resolve(self, name: str, version: str) -> str:
        """A concrete version id; `latest` is the most recently published one."""
        if version != LATEST:
            return check_version_id(version)
        entries = self.list_versions(name)
        if not entries:
            raise ModelNotFound(f"model {name} has no published versions in s3://{self.bucket}")
        return entries[-1].version

    def show(self, name: str, version: str) -> Manifest:
        concrete = self.resolve(name, version)
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=manifest_key(name, concrete))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise ModelNotFound(
                    f"model {name} version {concrete} is not published in s3://{self.bucket}"
                ) from None
            raise
        manifest = Manifest.from_json(response["Body"].read())
        if (manifest.name, manifest.version) != (name, concrete):
            raise IntegrityError(
                f"manifest at {manifest_key(name, concrete)} names "
                f"{manifest.name}/{manifest.version}"
            )
        return manifest

    def stored_card(self, name: str, version: str, *, html: bool = False) -> str | None:
        """A version's stored model card (Markdown, or HTML with `html`); None when the
        version was published before cards were written."""
        try:
            response = self.s3.get_object(
                Bucket=self.bucket, Key=card_key(name, check_version_id(version), html=html)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return str(response["Body"].read().decode())


def object_exists(s3: Any, bucket: str, key: str) -> bool:
    """Whether `key` exists, by listing it rather than HeadObject or GetObject: S3 answers
    either for a missing key with 404 only to a caller allowed s3:ListBucket, else 403, and
    modelship's roles have ListBucket conditioned on s3:prefix, which those requests do not
    carry. A listing with Prefix=<key> does, and the exact key, when it exists, sorts before
    every longer key that starts with it, so it is the first and only one asked for."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item.get("Key") == key for item in listed.get("Contents", []))


def verified_file(path: Path, expected: ArtifactInfo | CodeInfo) -> Path:
    """`path`, once its bytes are what the manifest's entry (artifact or code) says: the one
    check of a model file against its manifest (publishing, the /tmp cache, candidates)."""
    if not path.is_file():
        raise IntegrityError(f"{path} is missing", reason="artifact_missing")
    sha256, size = file_digest(path)
    if (sha256, size) != (expected.sha256, expected.size_bytes):
        raise IntegrityError(
            f"{path} does not match its manifest (sha256 {sha256[:12]}..., "
            f"{size} bytes; manifest says {expected.sha256[:12]}..., "
            f"{expected.size_bytes} bytes)",
            reason="sha256_mismatch",
        )
    return path


def verify_model_files(model_dir: Path, manifest: Manifest) -> None:
    """Every file the manifest names (artifact, code.zip) is in `model_dir`, unchanged."""
    verified_file(model_dir / manifest.artifact.file, manifest.artifact)
    if manifest.code is not None:
        verified_file(model_dir / manifest.code.file, manifest.code)
