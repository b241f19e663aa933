"""Predict function settings, validated once at cold start."""

from __future__ import annotations

from pathlib import Path

from pydantic import ConfigDict, Field

from modelship import names
from modelship.env import EnvSettings


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
