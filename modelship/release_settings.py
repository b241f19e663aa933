"""Settings of the release task and rollback functions, validated once at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelship import names
from modelship.errors import ConfigurationError
from modelship.guardrails import GuardrailThresholds
from modelship.releases import ReleaseTarget

_ENV_OF_FIELD = {
    "function_name": names.ENV_PREDICT_FUNCTION,
    "alias": names.ENV_ALIAS_NAME,
    "bucket": names.ENV_RELEASE_BUCKET,
    "error_rate_percent": names.ENV_GUARDRAIL_ERROR_RATE,
    "p99_latency_ms": names.ENV_GUARDRAIL_P99_LATENCY_MS,
    "period_seconds": names.ENV_GUARDRAIL_PERIOD_SECONDS,
    "post_promotion_guard_seconds": names.ENV_POST_PROMOTION_GUARD_SECONDS,
}


class ReleaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    function_name: str = Field(min_length=1, max_length=140)
    alias: str = Field(default=names.DEFAULT_ALIAS_NAME, min_length=1, max_length=128)
    bucket: str = Field(min_length=3, max_length=63)
    error_rate_percent: float = Field(
        default=names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT, gt=0, le=100
    )
    p99_latency_ms: float = Field(default=names.DEFAULT_GUARDRAIL_P99_LATENCY_MS, gt=0)
    period_seconds: int = Field(default=names.DEFAULT_GUARDRAIL_PERIOD_SECONDS, ge=10)
    post_promotion_guard_seconds: int = Field(
        default=names.DEFAULT_POST_PROMOTION_GUARD_SECONDS, ge=0
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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReleaseSettings:
        env = os.environ if environ is None else environ
        raw = {field: env[var] for field, var in _ENV_OF_FIELD.items() if env.get(var, "") != ""}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = []
            for error in exc.errors(include_url=False, include_input=False):
                field = str(error["loc"][0]) if error["loc"] else ""
                problems.append(f"{_ENV_OF_FIELD.get(field, field)}: {error['msg']}")
            raise ConfigurationError(
                "invalid release function configuration: " + "; ".join(problems)
            ) from None
