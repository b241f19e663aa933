"""Settings of the release task and rollback functions, validated once at cold start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import ConfigDict, Field

from modelship import names
from modelship.env import EnvSettings
from modelship.releases.canary_alarms import GuardrailThresholds
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases


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
    )
