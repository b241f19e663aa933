"""Deployment settings read from CDK context, validated before any construct is built.

Values come from cdk.json or `-c key=value` (then they are strings), so numbers and switches
accept both forms. A bad value raises `SettingsError` naming the context key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Protocol

from modelship import names

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

DEFAULTS: dict[str, Any] = {
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
}

# Used with fullmatch: `$` would also accept a trailing newline.
_STAGE = re.compile(r"[a-z][a-z0-9-]{0,19}")
_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ALIAS = re.compile(r"(?!\d+\Z)[A-Za-z0-9_-]{1,128}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SWITCH = {"on": True, "true": True, "off": False, "false": False}


class SettingsError(ValueError):
    """A context value is missing or invalid; the message names the key."""


class ContextReader(Protocol):
    def try_get_context(self, key: str) -> Any: ...


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

    @property
    def stack_name(self) -> str:
        return f"modelship-{self.stage}"

    @property
    def python_version(self) -> str:
        return self.runtime.removeprefix("python")

    @classmethod
    def from_context(cls, node: ContextReader) -> Settings:
        def get(key: str) -> Any:
            value = node.try_get_context(key)
            return DEFAULTS[key] if value is None else value

        settings = cls(
            stage=_match(get, "stage", _STAGE, "lowercase letters, digits and '-', max 20"),
            model_name=_match(get, "modelName", _MODEL_NAME, "lowercase letters, digits, _ -"),
            alias_name=_match(get, "aliasName", _ALIAS, "letters, digits, _ -; not all digits"),
            architecture=_choice(get, "architecture", ARCHITECTURES),
            runtime=_choice(get, "runtime", SUPPORTED_RUNTIMES),
            memory_size=_int(get, "memorySize", 128, 10240),
            timeout_seconds=_int(get, "timeout", 1, API_MAX_TIMEOUT_SECONDS),
            ephemeral_storage_mb=_int(get, "ephemeralStorageMb", 512, 10240),
            max_rows=_int(get, "maxRows", 1, 100_000),
            max_body_bytes=_int(
                get, "maxBodyBytes", names.MIN_MAX_BODY_BYTES, LAMBDA_MAX_PAYLOAD_BYTES
            ),
            auth_mode=_choice(get, "authMode", AUTH_MODES),
            jwt_issuer=str(get("jwtIssuer")).strip(),
            jwt_audience=_list(get, "jwtAudience"),
            auth_none_reason=str(get("authNoneReason")).strip(),
            log_retention_days=_int(get, "logRetentionDays", 1, 3653),
            snap_start=_switch(get, "snapStart"),
            throttle_rate_limit=_number(get, "throttleRateLimit", 1, 10_000),
            throttle_burst_limit=_int(get, "throttleBurstLimit", 1, 5_000),
            model_version=str(get("modelVersion")).strip(),
            model_sha256=str(get("modelSha256")).strip().lower(),
            guardrail_error_rate_percent=_number(get, "guardrailErrorRatePercent", 0.01, 100),
            guardrail_p99_latency_ms=_number(get, "guardrailP99LatencyMs", 1, 900_000),
            guardrail_period_seconds=_alarm_period(get, "guardrailPeriodSeconds"),
            guardrail_min_requests=_int(get, "guardrailMinRequests", 1, 1_000_000),
            guardrail_throttle_rate_percent=_number(get, "guardrailThrottleRatePercent", 0.01, 100),
            post_promotion_guard_seconds=_int(get, "postPromotionGuardSeconds", 0, 7 * 86_400),
            release_timeout_hours=_int(get, "releaseTimeoutHours", 1, 24 * 365),
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


def _match(get: Any, key: str, pattern: re.Pattern[str], rule: str) -> str:
    value = str(get(key)).strip()
    if not pattern.fullmatch(value):
        raise SettingsError(f"context '{key}' must be {rule}, got {value!r}")
    return value


def _alarm_period(get: Any, key: str) -> int:
    value = _int(get, key, 1, ALARM_PERIOD_MAX_SECONDS)
    if value % ALARM_PERIOD_STEP_SECONDS:
        raise SettingsError(
            f"context '{key}' must be a multiple of {ALARM_PERIOD_STEP_SECONDS} seconds, got "
            f"{value}: CloudWatch alarm periods are 10, 20, 30 or multiples of 60 seconds, and "
            "periods under 60 s need high-resolution metrics, which the guardrails' metrics "
            "are not (the alarms would stay INSUFFICIENT_DATA)"
        )
    return value


def _choice(get: Any, key: str, allowed: tuple[str, ...]) -> str:
    value = str(get(key)).strip().lower()
    if value not in allowed:
        raise SettingsError(f"context '{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _number(get: Any, key: str, low: float, high: float) -> float:
    raw = get(key)
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"context '{key}' must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"context '{key}' must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _int(get: Any, key: str, low: int, high: int) -> int:
    value = _number(get, key, low, high)
    if not value.is_integer():
        raise SettingsError(f"context '{key}' must be a whole number, got {get(key)!r}")
    return int(value)


def _switch(get: Any, key: str) -> bool:
    raw = get(key)
    if isinstance(raw, bool):
        return raw
    value = _SWITCH.get(str(raw).strip().lower())
    if value is None:
        raise SettingsError(f"context '{key}' must be on or off, got {raw!r}")
    return value


def _list(get: Any, key: str) -> tuple[str, ...]:
    raw = get(key)
    items = raw if isinstance(raw, list) else str(raw).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())
