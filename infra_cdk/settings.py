"""Deployment settings read from CDK context, validated before any construct is built: the
predict service, releases and guardrails (`Settings`) and the retraining pipeline
(`RetrainingOptions`).

Values come from cdk.json or `-c key=value` (then they are strings), so numbers and switches
accept both forms. A bad value raises `SettingsError` naming the context key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from infra_cdk.typed_context import ContextReader, TypedContext
from modelship import names
from modelship.releases.plan import InvalidRolloutPlan, parse_plan

SUPPORTED_RUNTIMES = ("python3.12", "python3.13", "python3.14")
ARCHITECTURES = ("arm64", "x86_64")
AUTH_MODES = ("iam", "jwt", "none")
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip
# Lambda rejects SnapStart with more ephemeral storage than this.
SNAPSTART_MAX_EPHEMERAL_MB = 512
# API Gateway HTTP APIs stop waiting for an integration after 30 seconds.
API_MAX_TIMEOUT_SECONDS = 30
# The synchronous invoke payload limit is 6 MB; the body is part of that payload.
LAMBDA_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
# CloudWatch alarm periods are 10, 20, 30 or a multiple of 60 seconds, and 10-30 s only work
# on high-resolution metrics: the predict function's EMF metrics and Lambda's own are
# standard resolution (one datapoint a minute), so shorter periods leave the guardrails in
# INSUFFICIENT_DATA. Period x evaluation periods may not exceed one day.
ALARM_PERIOD_STEP_SECONDS = 60
ALARM_PERIOD_MAX_SECONDS = 86_400

# Excluded capture fields travel comma-separated in the predict function's environment (4 KB).
CAPTURE_EXCLUDE_MAX_CHARS = 1024

DEFAULTS: dict[str, Any] = {
    "appName": names.DEFAULT_APP_NAME,
    "stage": "dev",
    "modelName": "churn",
    "aliasName": names.DEFAULT_ALIAS_NAME,
    "architecture": "arm64",
    "runtime": "python3.12",
    "memorySize": 1024,
    "timeout": 15,
    "ephemeralStorageMb": names.DEFAULT_EPHEMERAL_STORAGE_MB,
    "maxRows": names.DEFAULT_MAX_ROWS,
    "maxBodyBytes": names.DEFAULT_MAX_BODY_BYTES,
    "authMode": "iam",
    "jwtIssuer": "",
    "jwtAudience": "",
    "authNoneReason": "",
    "logRetentionDays": 30,
    "snapStart": "off",
    "throttleRateLimit": 50,
    "throttleBurstLimit": 100,
    "modelVersion": "",
    "modelSha256": "",
    "guardrailErrorRatePercent": names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
    "guardrailP99LatencyMs": names.DEFAULT_GUARDRAIL_P99_LATENCY_MS,
    "guardrailPeriodSeconds": names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
    "guardrailMinRequests": names.DEFAULT_GUARDRAIL_MIN_REQUESTS,
    "guardrailThrottleRatePercent": names.DEFAULT_GUARDRAIL_THROTTLE_RATE_PERCENT,
    "postPromotionGuardSeconds": names.DEFAULT_POST_PROMOTION_GUARD_SECONDS,
    "releaseTimeoutHours": 24,
    "captureSampleRate": names.DEFAULT_CAPTURE_SAMPLE_RATE,
    "captureExcludeFields": [],
    "captureRetentionDays": names.DEFAULT_CAPTURE_RETENTION_DAYS,
}
RETRAINING_DEFAULTS: dict[str, Any] = {
    "retrainSchedule": "",
    "trainingBackend": "lambda",
    "trainingAlgorithm": "logistic_regression",
    "trainingParams": {},
    "qualityGates": {},
    "releasePlan": "10:10m,50:10m,100",
    "trainMemoryMb": 3008,
    "sagemakerImageUri": "",
    "sagemakerInstanceType": "ml.m5.xlarge",
    "trainingEntryPoint": "",
    "trainingCode": "",
}
TRAINING_BACKENDS = ("lambda", "sagemaker")
# The retraining state machine's timeout, and what of it a run's canary may use: the rest is
# for the steps before it: SageMaker training up to its 24 h stopping condition plus an hour
# to upload and stop (sagemaker_training.py), and the Lambda tasks (under an hour together).
RETRAINING_TIMEOUT_HOURS = 50
RETRAINING_ROLLOUT_HOURS = 24
DEFAULT_RELEASE_PLAN = [{"weight": 0.1, "bake_seconds": 600}, {"weight": 0.5, "bake_seconds": 600}]

# Used with fullmatch: `$` would also accept a trailing newline. The stack name is
# <appName>-<stage>: 41 characters at most, well within CloudFormation's 128, and short enough
# for every name derived from it (resource_names.py).
_APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,19}")
_STAGE = re.compile(r"[a-z][a-z0-9-]{0,19}")
_MODEL_NAME = re.compile(names.MODEL_NAME_PATTERN)
_ALIAS = re.compile(r"(?!\d+\Z)[A-Za-z0-9_-]{1,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
# SageMaker training instance types are ml.<family>.<size>, e.g. ml.m5.xlarge, ml.g5.2xlarge.
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")
_ENTRY_POINT = re.compile(names.TRAINING_ENTRY_POINT_PATTERN)
_ECR_IMAGE = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)")


class SettingsError(ValueError):
    """A context value is missing or invalid; the message names the key."""


class RetrainingSettingsError(SettingsError):
    """A retraining context value is invalid; the message names the key."""


@dataclass(frozen=True)
class Settings:
    stage: str
    model_name: str
    alias_name: str
    architecture: str
    runtime: str
    memory_size: int
    timeout_seconds: int
    ephemeral_storage_mb: int
    max_rows: int
    max_body_bytes: int
    auth_mode: str
    jwt_issuer: str
    jwt_audience: tuple[str, ...]
    auth_none_reason: str
    log_retention_days: int
    snap_start: bool
    throttle_rate_limit: float
    throttle_burst_limit: int
    model_version: str
    model_sha256: str
    guardrail_error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT
    guardrail_p99_latency_ms: float = names.DEFAULT_GUARDRAIL_P99_LATENCY_MS
    guardrail_period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS
    guardrail_min_requests: int = names.DEFAULT_GUARDRAIL_MIN_REQUESTS
    guardrail_throttle_rate_percent: float = names.DEFAULT_GUARDRAIL_THROTTLE_RATE_PERCENT
    post_promotion_guard_seconds: int = names.DEFAULT_POST_PROMOTION_GUARD_SECONDS
    release_timeout_hours: int = 24
    app_name: str = names.DEFAULT_APP_NAME
    capture_sample_rate: float = names.DEFAULT_CAPTURE_SAMPLE_RATE
    capture_exclude_fields: tuple[str, ...] = ()
    capture_retention_days: int = names.DEFAULT_CAPTURE_RETENTION_DAYS

    @property
    def captures(self) -> bool:
        return self.capture_sample_rate > 0

    @property
    def stack_name(self) -> str:
        return f"{self.app_name}-{self.stage}"

    @staticmethod
    def check_model_name(name: str, *, key: str) -> None:
        if not _MODEL_NAME.fullmatch(name):
            raise SettingsError(
                f"context '{key}': model name {name!r} must be 1-63 lowercase letters, digits, "
                "_ and -, starting with a letter or digit"
            )

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @classmethod
    def from_context(cls, node: ContextReader) -> Settings:
        ctx = TypedContext(node, DEFAULTS, error=SettingsError)
        settings = cls(
            stage=ctx.match("stage", _STAGE, "lowercase letters, digits and '-', max 20"),
            model_name=ctx.match("modelName", _MODEL_NAME, "lowercase letters, digits, _ -"),
            alias_name=ctx.match("aliasName", _ALIAS, "letters, digits, _ -; not all digits"),
            architecture=ctx.choice("architecture", ARCHITECTURES),
            runtime=ctx.choice("runtime", SUPPORTED_RUNTIMES),
            memory_size=ctx.int("memorySize", 128, 10240),
            timeout_seconds=ctx.int("timeout", 1, API_MAX_TIMEOUT_SECONDS),
            ephemeral_storage_mb=ctx.int("ephemeralStorageMb", 512, 10240),
            max_rows=ctx.int("maxRows", 1, 100_000),
            max_body_bytes=ctx.int(
                "maxBodyBytes", names.MIN_MAX_BODY_BYTES, LAMBDA_MAX_PAYLOAD_BYTES
            ),
            auth_mode=ctx.choice("authMode", AUTH_MODES),
            jwt_issuer=ctx.text("jwtIssuer"),
            jwt_audience=ctx.list("jwtAudience"),
            auth_none_reason=ctx.text("authNoneReason"),
            log_retention_days=ctx.int("logRetentionDays", 1, 3653),
            snap_start=ctx.switch("snapStart"),
            throttle_rate_limit=ctx.number("throttleRateLimit", 1, 10_000),
            throttle_burst_limit=ctx.int("throttleBurstLimit", 1, 5_000),
            model_version=ctx.text("modelVersion"),
            model_sha256=ctx.text("modelSha256").lower(),
            guardrail_error_rate_percent=ctx.number("guardrailErrorRatePercent", 0.01, 100),
            guardrail_p99_latency_ms=ctx.number("guardrailP99LatencyMs", 1, 900_000),
            guardrail_period_seconds=_alarm_period(ctx, "guardrailPeriodSeconds"),
            guardrail_min_requests=ctx.int("guardrailMinRequests", 1, 1_000_000),
            guardrail_throttle_rate_percent=ctx.number("guardrailThrottleRatePercent", 0.01, 100),
            post_promotion_guard_seconds=ctx.int("postPromotionGuardSeconds", 0, 7 * 86_400),
            release_timeout_hours=ctx.int("releaseTimeoutHours", 1, 24 * 365),
            app_name=ctx.match(
                "appName",
                _APP_NAME,
                "a lowercase letter, then lowercase letters, digits, -; max 20",
            ),
            capture_sample_rate=ctx.number("captureSampleRate", 0, 1),
            capture_exclude_fields=_exclude_fields(ctx, "captureExcludeFields"),
            capture_retention_days=ctx.int("captureRetentionDays", 1, 36_500),
        )
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise SettingsError(
                f"context 'logRetentionDays' must be one of {LOG_RETENTION_DAYS}, "
                f"got {self.log_retention_days}"
            )
        if self.auth_mode == "jwt":
            if not self.jwt_issuer.startswith("https://"):
                raise SettingsError("context 'jwtIssuer' must be an https:// URL when authMode=jwt")
            if not self.jwt_audience:
                raise SettingsError("context 'jwtAudience' must name at least one audience")
        if self.auth_mode == "none" and not self.auth_none_reason:
            raise SettingsError(
                "context 'authNoneReason' must say why the API may be called without "
                "authorization when authMode=none"
            )
        if self.snap_start and self.ephemeral_storage_mb > SNAPSTART_MAX_EPHEMERAL_MB:
            raise SettingsError(
                f"context 'snapStart' is on, which Lambda allows only with "
                f"'ephemeralStorageMb' <= {SNAPSTART_MAX_EPHEMERAL_MB}"
            )
        if self.model_sha256 and not _SHA256.fullmatch(self.model_sha256):
            raise SettingsError("context 'modelSha256' must be 64 hex digits")
        if bool(self.model_version) != bool(self.model_sha256):
            raise SettingsError("context 'modelVersion' and 'modelSha256' must be set together")
        if self.throttle_burst_limit < self.throttle_rate_limit:
            raise SettingsError("context 'throttleBurstLimit' must be >= 'throttleRateLimit'")
        for key, percent in (
            ("guardrailErrorRatePercent", self.guardrail_error_rate_percent),
            ("guardrailThrottleRatePercent", self.guardrail_throttle_rate_percent),
        ):
            # One failure among the minimum requests is 100 / minimum percent.
            if self.guardrail_min_requests * percent < 100:
                needed = math.ceil(100 / percent)
                raise SettingsError(
                    f"context 'guardrailMinRequests' ({self.guardrail_min_requests}) times "
                    f"'{key}' ({percent:g}%) must be at least 100, or a single failed request "
                    f"crosses the threshold: set guardrailMinRequests to {needed} or more"
                )


@dataclass(frozen=True)
class RetrainingOptions:
    """Context keys of the retraining pipeline (documented in docs/retraining.md)."""

    schedule: str = ""  # "" = off; else an EventBridge expression: rate(7 days), cron(...)
    training_backend: str = "lambda"
    algorithm: str = "logistic_regression"
    params: str = "{}"
    quality_gates: str = "{}"
    release_plan: tuple[dict[str, float], ...] = tuple(DEFAULT_RELEASE_PLAN)
    train_memory_mb: int = 3008
    sagemaker_instance_type: str = "ml.m5.xlarge"
    sagemaker_image_uri: str = ""
    # The user's training function, package.module:function ("" = the built-in algorithm),
    # and the directory (relative to the app) its code is bundled from ("" = none).
    training_entry_point: str = ""
    training_code: str = ""

    @classmethod
    def from_context(cls, node: ContextReader) -> RetrainingOptions:
        # Here a blank value means the default: `-c retrainSchedule=` turns the schedule off.
        ctx = TypedContext(
            node, RETRAINING_DEFAULTS, error=RetrainingSettingsError, blank_is_default=True
        )
        schedule = ctx.schedule("retrainSchedule")  # "" is off
        backend = ctx.choice("trainingBackend", TRAINING_BACKENDS)
        params = ctx.json_object("trainingParams")
        gates = ctx.json_object("qualityGates")
        image = str(ctx.raw("sagemakerImageUri"))
        if backend == "sagemaker" and not image:
            raise RetrainingSettingsError(
                "trainingBackend=sagemaker needs sagemakerImageUri: a training image with the "
                "layer's scikit-learn version (see docs/retraining.md)"
            )
        if backend == "sagemaker":
            ecr_repository_arn(image, "aws")  # refuses an image outside ECR
        instance_type = str(ctx.raw("sagemakerInstanceType"))
        if not _INSTANCE_TYPE.match(instance_type):
            raise RetrainingSettingsError(
                f"sagemakerInstanceType {instance_type!r} must be a SageMaker instance type "
                "such as ml.m5.xlarge"
            )
        entry_point = str(ctx.raw("trainingEntryPoint"))
        if entry_point and not _ENTRY_POINT.fullmatch(entry_point):
            raise RetrainingSettingsError(
                f"trainingEntryPoint {entry_point[:200]!r} must be package.module:function "
                "(Python identifiers only), or empty for the built-in trainingAlgorithm"
            )
        training_code = str(ctx.raw("trainingCode"))
        if entry_point and not training_code:
            raise RetrainingSettingsError(
                f"trainingEntryPoint {entry_point} needs trainingCode: the directory (relative "
                "to the app) holding its module, bundled into the retraining functions"
            )
        return cls(
            schedule=schedule,
            training_backend=backend,
            algorithm=ctx.choice("trainingAlgorithm", names.TRAINING_ALGORITHMS),
            params=params,
            quality_gates=gates,
            release_plan=parse_release_plan(str(ctx.raw("releasePlan"))),
            train_memory_mb=ctx.int("trainMemoryMb", 128, 10240),
            sagemaker_instance_type=instance_type,
            sagemaker_image_uri=image,
            training_entry_point=entry_point,
            training_code=training_code,
        )

    def short_bakes(self, guardrail_period_seconds: int) -> list[str]:
        """A bake shorter than one alarm period plus CloudWatch's minute of delay ends before
        the guardrails have judged the step: the check after it sees OK for lack of data."""
        shortest = guardrail_period_seconds + 60
        return [
            f"context 'releasePlan' bakes {step['weight']:.0%} for "
            f"{step['bake_seconds']:g} s, shorter than guardrailPeriodSeconds + 60 s "
            f"({shortest} s): the guardrails cannot judge that step before the next"
            for step in self.release_plan
            if step["bake_seconds"] < shortest
        ]


def parse_release_plan(text: str) -> tuple[dict[str, float], ...]:
    """`10:10m,50:10m,100` -> canary steps; the final 100 (promote) is implied by the chain.
    The grammar is `modelship.releases.plan`'s, the same the CLI and the runtime read."""
    try:
        return tuple(step.as_input() for step in parse_plan(text, name="releasePlan"))
    except InvalidRolloutPlan as exc:
        raise RetrainingSettingsError(str(exc)) from None


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag> -> the repository's ARN."""
    match = _ECR_IMAGE.match(image_uri)
    if not match:
        raise RetrainingSettingsError(
            f"sagemakerImageUri {image_uri!r} is not an ECR image "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
        )
    account, region, repository = match.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def _exclude_fields(ctx: TypedContext, key: str) -> tuple[str, ...]:
    raw, fields = ctx.raw(key), ctx.list(key)
    items = raw if isinstance(raw, list) else [] if isinstance(raw, str) else [None]
    if any(not isinstance(f, str) or "," in f for f in items) or len(set(fields)) < len(fields):
        raise SettingsError(
            f"context '{key}' must be a list of distinct field names without ',', got {raw!r}"
        )
    if len(",".join(fields)) > CAPTURE_EXCLUDE_MAX_CHARS:
        raise SettingsError(
            f"context '{key}' takes more than {CAPTURE_EXCLUDE_MAX_CHARS} characters of the "
            "predict function's environment (4 KB in all): exclude fewer or shorter fields"
        )
    return fields


def _alarm_period(ctx: TypedContext, key: str) -> int:
    value = ctx.int(key, 1, ALARM_PERIOD_MAX_SECONDS)
    if value % ALARM_PERIOD_STEP_SECONDS:
        raise SettingsError(
            f"context '{key}' must be a multiple of {ALARM_PERIOD_STEP_SECONDS} seconds, got "
            f"{value}: CloudWatch alarm periods are 10, 20, 30 or multiples of 60 seconds, and "
            "periods under 60 s need high-resolution metrics, which the guardrails' metrics "
            "are not (the alarms would stay INSUFFICIENT_DATA)"
        )
    return value
