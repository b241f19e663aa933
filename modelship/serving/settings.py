"""Predict function settings, validated once at cold start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from modelship import names
from modelship.env import EnvSettings


def _split_names(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return tuple(part.strip() for part in value.split(","))


class PredictSettings(EnvSettings):
    model_config = ConfigDict(title="predict function")

    model_bucket: str = Field(validation_alias=names.ENV_MODEL_BUCKET, min_length=3, max_length=63)
    model_name: str = Field(
        validation_alias=names.ENV_MODEL_NAME,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
    )
    # Empty until a release pins it: the function then answers 503 no_model_pinned.
    model_version: str = Field(default="", validation_alias=names.ENV_MODEL_VERSION, max_length=64)
    model_sha256: str | None = Field(
        default=None, validation_alias=names.ENV_MODEL_SHA256, pattern=r"^[0-9a-f]{64}$"
    )
    max_rows: int = Field(
        default=names.DEFAULT_MAX_ROWS, validation_alias=names.ENV_MAX_ROWS, ge=1, le=100_000
    )
    max_body_bytes: int = Field(
        default=names.DEFAULT_MAX_BODY_BYTES,
        validation_alias=names.ENV_MAX_BODY_BYTES,
        ge=names.MIN_MAX_BODY_BYTES,
        le=6 * 1024 * 1024,
    )
    cache_dir: Path = Field(
        default=Path(names.DEFAULT_MODEL_CACHE_DIR), validation_alias=names.ENV_MODEL_CACHE_DIR
    )
    ephemeral_storage_mb: int = Field(
        default=names.DEFAULT_EPHEMERAL_STORAGE_MB,
        validation_alias=names.ENV_EPHEMERAL_STORAGE_MB,
        ge=512,
        le=10240,
    )
    # Every model of the deployment, the default first (empty: this function's model alone).
    # Only the OpenAPI document reads it: it describes each model's /models/<name>/ routes.
    deployment_models: Annotated[tuple[str, ...], BeforeValidator(_split_names)] = Field(
        default=(), validation_alias=names.ENV_DEPLOYMENT_MODELS
    )

    # Data capture (modelship.serving.capture): off without a stream or at rate 0.
    capture_stream: str = Field(
        default="",
        validation_alias=names.ENV_CAPTURE_STREAM,
        max_length=64,
        pattern=r"^[a-zA-Z0-9_.-]*$",
    )
    capture_sample_rate: float = Field(
        default=names.DEFAULT_CAPTURE_SAMPLE_RATE,
        validation_alias=names.ENV_CAPTURE_SAMPLE_RATE,
        ge=0.0,
        le=1.0,
    )
    capture_exclude_fields: Annotated[tuple[str, ...], BeforeValidator(_split_names)] = Field(
        default=(), validation_alias=names.ENV_CAPTURE_EXCLUDE_FIELDS
    )

    # Set by Lambda (reserved variables): the serving versions mirror to a shadow version of
    # this function by name (modelship.serving.shadow_mirror); empty off Lambda, where
    # nothing is mirrored.
    function_name: str = Field(
        default="", validation_alias=names.ENV_LAMBDA_FUNCTION_NAME, max_length=64
    )
    function_version: str = Field(
        default="$LATEST", validation_alias=names.ENV_LAMBDA_FUNCTION_VERSION, max_length=32
    )

    @field_validator("capture_exclude_fields")
    @classmethod
    def _check_exclude_fields(cls, fields: tuple[str, ...]) -> tuple[str, ...]:
        if any(not field for field in fields):
            raise ValueError(
                f"{names.ENV_CAPTURE_EXCLUDE_FIELDS} has an empty name (comma-separated fields)"
            )
        return fields

    @field_validator("deployment_models")
    @classmethod
    def _check_deployment_models(
        cls, models: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        variable = names.ENV_DEPLOYMENT_MODELS
        bad = [m for m in models if not re.fullmatch(names.MODEL_NAME_PATTERN, m)]
        if bad:
            raise ValueError(
                f"{variable}: {', '.join(repr(m) for m in bad)} must match "
                f"{names.MODEL_NAME_PATTERN} (comma-separated model names, the default first)"
            )
        repeated = sorted({m for m in models if models.count(m) > 1})
        if repeated:
            raise ValueError(f"{variable} lists {', '.join(repeated)} more than once")
        own = info.data.get("model_name")
        if own is not None and models and own not in models:
            raise ValueError(
                f"{variable} does not list this function's model {own} ({names.ENV_MODEL_NAME})"
            )
        return models

    @property
    def models(self) -> tuple[str, ...]:
        """The deployment's models, the default first; this function's model is one of them."""
        return self.deployment_models or (self.model_name,)
