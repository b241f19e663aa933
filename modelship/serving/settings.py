"""Predict function settings, validated once at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelship import names
from modelship.errors import ConfigurationError

_ENV_OF_FIELD = {
    "model_bucket": names.ENV_MODEL_BUCKET,
    "model_name": names.ENV_MODEL_NAME,
    "model_version": names.ENV_MODEL_VERSION,
    "model_sha256": names.ENV_MODEL_SHA256,
    "max_rows": names.ENV_MAX_ROWS,
    "max_body_bytes": names.ENV_MAX_BODY_BYTES,
    "cache_dir": names.ENV_MODEL_CACHE_DIR,
    "ephemeral_storage_mb": names.ENV_EPHEMERAL_STORAGE_MB,
}


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def settings_from_env(
    model: type[SettingsT],
    env_of_field: Mapping[str, str],
    what: str,
    environ: Mapping[str, str] | None = None,
) -> SettingsT:
    """Validates a settings model from environment variables; an error names the variable."""
    env = os.environ if environ is None else environ
    raw = {field: env[var] for field, var in env_of_field.items() if env.get(var, "") != ""}
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False, include_input=False):
            field = str(error["loc"][0]) if error["loc"] else ""
            problems.append(f"{env_of_field.get(field, field)}: {error['msg']}")
        raise ConfigurationError(f"invalid {what} configuration: " + "; ".join(problems)) from None


class PredictSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    model_bucket: str = Field(min_length=3, max_length=63)
    model_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    # Empty until a release pins it: the function then answers 503 no_model_pinned.
    model_version: str = Field(default="", max_length=64)
    model_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    max_rows: int = Field(default=names.DEFAULT_MAX_ROWS, ge=1, le=100_000)
    max_body_bytes: int = Field(
        default=names.DEFAULT_MAX_BODY_BYTES, ge=names.MIN_MAX_BODY_BYTES, le=6 * 1024 * 1024
    )
    cache_dir: Path = Path(names.DEFAULT_MODEL_CACHE_DIR)
    ephemeral_storage_mb: int = Field(default=names.DEFAULT_EPHEMERAL_STORAGE_MB, ge=512, le=10240)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PredictSettings:
        return settings_from_env(cls, _ENV_OF_FIELD, "predict function", environ)
