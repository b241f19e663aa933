"""What `release create` checks before it changes anything: the artifact (and the model's
code.zip) are the ones the manifest describes, the function's layer can unpickle it, and
callers of the stable release keep working (IncompatibleRelease otherwise)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from modelship import names
from modelship.errors import IncompatibleRelease, ModelNotFound
from modelship.registry.manifest import ArtifactInfo, CodeInfo, Manifest
from modelship.registry.registry import Registry, artifact_key, code_key
from modelship.releases.models import ReleaseInfo

logger = logging.getLogger(__name__)


def check_artifact(
    s3: Any, registry: Registry, manifest: Manifest, expected_sha256: str | None
) -> None:
    """The stored artifact (model.joblib or model.skops) and the model's code.zip, if it
    ships code, match their manifest (and the artifact the digest the caller expects)."""
    if expected_sha256 and expected_sha256.lower() != manifest.artifact.sha256:
        raise IncompatibleRelease(
            f"{manifest.name} {manifest.version} has sha256 {manifest.artifact.sha256}, "
            f"not the expected {expected_sha256}"
        )
    _check_stored(
        s3,
        registry,
        manifest,
        artifact_key(manifest.name, manifest.version, manifest.artifact.file),
        manifest.artifact,
    )
    if manifest.code is not None:
        _check_stored(
            s3, registry, manifest, code_key(manifest.name, manifest.version), manifest.code
        )


def _check_stored(
    s3: Any, registry: Registry, manifest: Manifest, key: str, expected: ArtifactInfo | CodeInfo
) -> None:
    try:
        head = s3.head_object(Bucket=registry.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            raise ModelNotFound(
                f"{manifest.name} {manifest.version} has a manifest but no {expected.file} at "
                f"s3://{registry.bucket}/{key}"
            ) from None
        raise
    stored = (head.get("Metadata") or {}).get("sha256")
    size = head.get("ContentLength")
    if stored != expected.sha256 or size != expected.size_bytes:
        raise IncompatibleRelease(
            f"{expected.file} s3://{registry.bucket}/{key} does not match its manifest "
            f"(stored sha256 {str(stored)[:12]}..., {size} bytes; manifest says "
            f"{expected.sha256[:12]}..., {expected.size_bytes} bytes)"
        )


def check_runtime(function_name: str, env: dict[str, str], manifest: Manifest) -> None:
    """The model was pickled with the scikit-learn version the function's layer has."""
    layer = env.get(names.ENV_LAYER_SKLEARN_VERSION, "")
    if not layer:
        raise IncompatibleRelease(
            f"{function_name} does not declare {names.ENV_LAYER_SKLEARN_VERSION}, "
            "so the model's scikit-learn version cannot be checked; redeploy the stack"
        )
    if manifest.runtime.sklearn != layer:
        raise IncompatibleRelease(
            f"{manifest.name} {manifest.version} was pickled with scikit-learn "
            f"{manifest.runtime.sklearn}; the function's layer has {layer}. Retrain with "
            f"scikit-learn {layer} or rebuild the layer",
            reason="incompatible_sklearn",
        )


def check_schema(registry: Registry, stable: ReleaseInfo, candidate: Manifest) -> None:
    """Requests valid for the stable model must stay valid: same features in the same
    order with the same types, no allowed category dropped, no null refused that the stable
    model takes."""
    try:
        current = registry.show(stable.model_name, stable.model_version)
    except ModelNotFound:
        logger.warning("stable model %s is gone from the registry", stable.model_version)
        return
    old = [(f.name, f.kind, f.dtype) for f in current.features]
    new = [(f.name, f.kind, f.dtype) for f in candidate.features]
    if old != new:
        raise IncompatibleRelease(
            f"{candidate.version} expects features {_features(new)} but the stable "
            f"release ({current.version}) takes {_features(old)}; callers would break. "
            "Pass --allow-schema-change if the callers have changed",
            reason="schema_changed",
        )
    for before, after in zip(current.features, candidate.features, strict=True):
        dropped = set(before.categories or ()) - set(after.categories or ())
        if dropped:
            raise IncompatibleRelease(
                f"{candidate.version} no longer accepts {sorted(dropped)} for "
                f"{before.name!r}, which the stable release accepts",
                reason="schema_changed",
            )
        if before.nullable and not after.nullable:
            raise IncompatibleRelease(
                f"{candidate.version} refuses null for {before.name!r}, which the stable "
                "release accepts",
                reason="schema_changed",
            )


def _features(spec: Sequence[tuple[str, str, str]]) -> str:
    return "[" + ", ".join(f"{n}:{d}" for n, _, d in spec) + "]"
