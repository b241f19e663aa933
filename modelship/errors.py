"""One exception type per outcome. `modelship.serving.http_errors` maps them to HTTP answers.

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


class CommandFailed(ModelshipError):
    """A CLI command's expected failure (bad flag combination, failed run): one line, exit 1."""

    reason = "command_failed"


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


class UnknownModel(RequestError):
    """A /models/<name>/ route whose <name> is not the model this function serves."""

    reason = "unknown_model"


class MalformedRequest(RequestError):
    reason = "malformed_json"


class UndecodableBody(RequestError):
    """A base64-encoded body that is not base64 (`invalid_base64`) or not UTF-8 text
    (`body_not_utf8`): API Gateway base64-encodes bodies whose content type is not text."""

    reason = "invalid_base64"


class PayloadTooLarge(RequestError):
    reason = "payload_too_large"


class SchemaMismatch(RequestError):
    """Rows that do not match the model's feature schema; `errors` names row and field."""

    reason = "schema_mismatch"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class UnscorableInput(RequestError):
    """Rows that pass the schema but that the estimator cannot score (a value its
    preprocessing overflows, or one it refuses); `errors` names row and, where it can be
    identified, field."""

    reason = "unscorable_input"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class ReleaseError(ModelshipError):
    """Base of release failures: nothing on the alias or the function was changed."""

    reason = "release_failed"


class ReleaseConflict(ReleaseError):
    """Someone else changed the function or the alias since it was read (RevisionId)."""

    reason = "release_conflict"


class IncompatibleRelease(ReleaseError):
    """The model version cannot be released on this function (sha256, scikit-learn, schema)."""

    reason = "incompatible_release"


class ReleaseNotFound(ReleaseError):
    """The Lambda version is not a modelship release of this function."""

    reason = "release_not_found"


class CanaryInProgress(ReleaseError):
    """A canary is already running; one candidate at a time unless forced."""

    reason = "canary_in_progress"


class NoCanary(ReleaseError):
    """The action needs a canary in progress and there is none."""

    reason = "no_canary"


class NothingToRollBack(ReleaseError):
    """No canary and no earlier release to go back to."""

    reason = "nothing_to_roll_back"


class InvalidWeight(ReleaseError):
    """A canary weight outside 0 < w < 1, or not a number."""

    reason = "invalid_weight"


class InvalidRolloutPlan(ReleaseError):
    """A rollout plan that does not parse or does not end at 100%."""

    reason = "invalid_rollout_plan"


class GuardrailTripped(ReleaseError):
    """A guardrail alarm is in ALARM: the rollout must not go on."""

    reason = "guardrail_alarm"


class CanaryVerdictFailed(ReleaseError):
    """The canary verdict found the candidate worse than stable; the message is the
    verdict's reason, naming the check (errors, latency or scores). The release state machine
    sees the class name as the Lambda errorType, rolls back and fails with the message."""

    reason = "canary_verdict_failed"


class CanaryVerdictInconclusive(ReleaseError):
    """The canary verdict was still inconclusive after the last extension and the
    deployment's verdictOnInconclusive is `rollback`; the message is the verdict's reason."""

    reason = "canary_verdict_inconclusive"


class HistoryConflict(ReleaseError):
    """A release history record with the same key already exists (write-once)."""

    reason = "history_conflict"


class UsageError(CommandFailed):
    """A command line that does not parse (unknown or missing flag)."""

    reason = "usage"


class NotAnEarlierRelease(ReleaseError):
    """`rollback --to` names a release newer than the stable one: moving forward is a
    promotion (with or without a canary), not a rollback."""

    reason = "not_an_earlier_release"


class DeploymentNotFound(ModelshipError):
    """A stack lists no models in its model directory (not deployed, or another name)."""

    reason = "deployment_not_found"


class ModelNotDeployed(ModelshipError):
    """The deployment has no model of that name; the message lists the ones it has."""

    reason = "model_not_deployed"


class InvalidModelDirectory(ModelshipError):
    """A parameter of a deployment's model directory is not a model entry, or the entries
    disagree on what a deployment shares (its bucket); the message names the parameters."""

    reason = "invalid_model_directory"


class PackagingError(ModelshipError):
    """A model fitted elsewhere that cannot be packaged as it is; nothing was written. The
    reason says what is wrong (not_an_estimator, not_fitted, predict_failed, missing_module,
    library_not_in_layer, version_mismatch, smoke_mismatch, defined_in_main, untrusted_types,
    unsupported_column, not_picklable, invalid_sample, invalid_override, invalid_code,
    output_exists) and the message names what to change."""

    reason = "packaging_failed"


class ShadowError(ReleaseError):
    """Base of shadow release failures: no shadow was started, stopped or promoted."""

    reason = "shadow_failed"


class ShadowAlreadyRunning(ShadowError):
    """A model has one shadow at a time; the message names the running one."""

    reason = "shadow_running"


class NoShadow(ShadowError):
    """The action needs a running shadow and there is none."""

    reason = "no_shadow"


class InvalidShadow(ShadowError):
    """A shadow that cannot be started: the stable release or its model, the canary's
    candidate (reasons already_stable, canary_candidate, same_model), or a sample rate
    outside (0, 1] (invalid_sample_rate)."""

    reason = "invalid_shadow"


class ShadowNotPromotable(ShadowError):
    """The shadow's report raises a concern (no requests, errors, low agreement); the
    message names it. `--force` promotes anyway."""

    reason = "shadow_not_promotable"
