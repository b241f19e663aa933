"""Settings of the release task and rollback functions, validated once at cold start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from modelship import names
from modelship.env import EnvSettings
from modelship.releases.canary_alarms import GuardrailThresholds
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases
from modelship.releases.verdict import VerdictPolicy


class ReleaseSettings(EnvSettings):
    model_config = ConfigDict(title="release function")

    function_name: str = Field(
        validation_alias=names.ENV_PREDICT_FUNCTION, min_length=1, max_length=140
    )
    alias: str = Field(
        default=names.DEFAULT_ALIAS_NAME,
        validation_alias=names.ENV_ALIAS_NAME,
        min_length=1,
        max_length=128,
    )
    bucket: str = Field(validation_alias=names.ENV_RELEASE_BUCKET, min_length=3, max_length=63)
    error_rate_percent: float = Field(
        default=names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        validation_alias=names.ENV_GUARDRAIL_ERROR_RATE,
        gt=0,
        le=100,
    )
    p99_latency_ms: float = Field(
        default=names.DEFAULT_GUARDRAIL_P99_LATENCY_MS,
        validation_alias=names.ENV_GUARDRAIL_P99_LATENCY_MS,
        gt=0,
    )
    period_seconds: int = Field(
        default=names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
        validation_alias=names.ENV_GUARDRAIL_PERIOD_SECONDS,
        ge=10,
    )
    post_promotion_guard_seconds: int = Field(
        default=names.DEFAULT_POST_PROMOTION_GUARD_SECONDS,
        validation_alias=names.ENV_POST_PROMOTION_GUARD_SECONDS,
        ge=0,
    )

    verdict_alpha: float = Field(
        default=names.DEFAULT_VERDICT_ALPHA,
        validation_alias=names.ENV_VERDICT_ALPHA,
        gt=0,
        le=names.MAX_VERDICT_ALPHA,
    )
    verdict_min_requests: int = Field(
        default=names.DEFAULT_VERDICT_MIN_REQUESTS,
        validation_alias=names.ENV_VERDICT_MIN_REQUESTS,
        ge=1,
        le=names.MAX_VERDICT_MIN_REQUESTS,
    )
    verdict_error_margin_percent: float = Field(
        default=names.DEFAULT_VERDICT_ERROR_MARGIN_PERCENT,
        validation_alias=names.ENV_VERDICT_ERROR_MARGIN_PERCENT,
        ge=0,
        lt=100,
    )
    verdict_latency_tolerance_percent: float = Field(
        default=names.DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT,
        validation_alias=names.ENV_VERDICT_LATENCY_TOLERANCE_PERCENT,
        ge=0,
        le=names.MAX_VERDICT_LATENCY_TOLERANCE_PERCENT,
    )
    verdict_score_shift_max: float = Field(
        default=names.DEFAULT_VERDICT_SCORE_SHIFT_MAX,
        validation_alias=names.ENV_VERDICT_SCORE_SHIFT_MAX,
        ge=0,
        lt=1,
    )
    verdict_extension_seconds: int = Field(
        default=names.DEFAULT_VERDICT_EXTENSION_SECONDS,
        validation_alias=names.ENV_VERDICT_EXTENSION_SECONDS,
        ge=names.MIN_VERDICT_EXTENSION_SECONDS,
        le=names.MAX_VERDICT_EXTENSION_SECONDS,
    )
    verdict_max_extensions: int = Field(
        default=names.DEFAULT_VERDICT_MAX_EXTENSIONS,
        validation_alias=names.ENV_VERDICT_MAX_EXTENSIONS,
        ge=0,
        le=names.MAX_VERDICT_MAX_EXTENSIONS,
    )
    verdict_on_inconclusive: str = Field(
        default=names.DEFAULT_VERDICT_ON_INCONCLUSIVE,
        validation_alias=names.ENV_VERDICT_ON_INCONCLUSIVE,
    )

    @field_validator("verdict_on_inconclusive")
    @classmethod
    def _inconclusive_choice(cls, value: str) -> str:
        if value not in names.VERDICT_ON_INCONCLUSIVE_CHOICES:
            raise ValueError(f"must be one of {', '.join(names.VERDICT_ON_INCONCLUSIVE_CHOICES)}")
        return value

    @property
    def target(self) -> ReleaseTarget:
        return ReleaseTarget(self.function_name, self.alias, self.bucket)

    @property
    def thresholds(self) -> GuardrailThresholds:
        return GuardrailThresholds(
            error_rate_percent=self.error_rate_percent,
            p99_latency_ms=self.p99_latency_ms,
            period_seconds=self.period_seconds,
        )

    @property
    def post_promotion_guard(self) -> timedelta:
        return timedelta(seconds=self.post_promotion_guard_seconds)

    @property
    def verdict_policy(self) -> VerdictPolicy:
        return VerdictPolicy(
            alpha=self.verdict_alpha,
            min_requests=self.verdict_min_requests,
            error_margin=self.verdict_error_margin_percent / 100,
            latency_tolerance=self.verdict_latency_tolerance_percent / 100,
            score_shift_max=self.verdict_score_shift_max,
            max_extensions=self.verdict_max_extensions,
            on_inconclusive=self.verdict_on_inconclusive,
        )


def releases_for(settings: ReleaseSettings, client: Callable[[str], Any]) -> Releases:
    """The Releases of a release, rollback or retraining function; `client` is boto3.client (or
    a moto-backed stand-in), called here once per service at init."""
    return Releases(
        settings.target,
        lambda_client=client("lambda"),
        s3=client("s3"),
        cloudwatch=client("cloudwatch"),
        sts=client("sts"),
        thresholds=settings.thresholds,
        post_promotion_guard=settings.post_promotion_guard,
        verdict_policy=settings.verdict_policy,
        verdict_extension_seconds=settings.verdict_extension_seconds,
    )
