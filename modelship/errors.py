"""One exception type per outcome. `modelship.error_responses` maps them to HTTP answers.

Each carries a stable machine-readable `reason` code; the message is for operators and
logs, never copied into a response body.
"""

from __future__ import annotations

from typing import Any


class ModelshipError(Exception):
    """Base of every error modelship raises on purpose."""

    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ConfigurationError(ModelshipError):
    """A setting is missing or invalid (raised at cold start)."""

    reason = "invalid_configuration"


class InvalidManifest(ModelshipError):
    """A manifest file is missing or does not parse."""

    reason = "invalid_manifest"


class ModelNotFound(ModelshipError):
    """The registry has no such model name or version."""

    reason = "model_not_found"


class VersionConflict(ModelshipError):
    """A publish would overwrite an existing, immutable model version."""

    reason = "version_conflict"


class InvalidVersion(ModelshipError):
    """A user-given version string is not a valid version id."""

    reason = "invalid_version"


class ModelUnavailable(ModelshipError):
    """The pinned model cannot be served (missing, corrupt, incompatible, too large)."""

    reason = "model_unavailable"


class IntegrityError(ModelUnavailable):
    """Downloaded or cached bytes do not match the manifest (sha256 or size)."""

    reason = "integrity_check_failed"


class IncompatibleModel(ModelUnavailable):
    """The artifact was built with a different scikit-learn, or its schema does not fit."""

    reason = "incompatible_model"


class TrainingError(ModelshipError):
    """Training data or configuration cannot produce a model."""

    reason = "training_failed"


class DatasetError(TrainingError):
    """A dataset does not match its declared schema."""

    reason = "invalid_dataset"


class RequestError(ModelshipError):
    """Base of client errors in a prediction request."""

    reason = "bad_request"


class MalformedRequest(RequestError):
    reason = "malformed_json"


class PayloadTooLarge(RequestError):
    reason = "payload_too_large"


class SchemaMismatch(RequestError):
    """Rows that do not match the model's feature schema; `errors` names row and field."""

    reason = "schema_mismatch"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors
