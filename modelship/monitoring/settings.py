"""Settings of the drift monitor function, validated once at cold start."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from modelship import names
from modelship.env import EnvSettings


class MonitorSettings(EnvSettings):
    """Which model the monitor watches, where its captures and reports are, and the
    thresholds that judge a window (the CDK app writes them from the model's drift keys)."""

    model_config = ConfigDict(title="drift monitor")

    bucket: str = Field(validation_alias=names.ENV_MODEL_BUCKET, min_length=3, max_length=63)
    model_name: str = Field(
        validation_alias=names.ENV_MODEL_NAME, pattern=f"^{names.MODEL_NAME_PATTERN}$"
    )
    predict_function: str = Field(
        validation_alias=names.ENV_PREDICT_FUNCTION, min_length=1, max_length=140
    )
    alias_name: str = Field(
        default=names.DEFAULT_ALIAS_NAME, validation_alias=names.ENV_ALIAS_NAME, min_length=1
    )
    window_hours: int = Field(
        default=names.DEFAULT_DRIFT_WINDOW_HOURS,
        validation_alias=names.ENV_DRIFT_WINDOW_HOURS,
        ge=1,
        le=names.MAX_DRIFT_WINDOW_HOURS,
    )
    psi_threshold: float = Field(
        default=names.DEFAULT_DRIFT_PSI_THRESHOLD,
        validation_alias=names.ENV_DRIFT_PSI_THRESHOLD,
        gt=0,
    )
    p_value: float = Field(
        default=names.DEFAULT_DRIFT_P_VALUE, validation_alias=names.ENV_DRIFT_P_VALUE, gt=0, lt=1
    )
    min_rows: int = Field(
        default=names.DEFAULT_DRIFT_MIN_ROWS, validation_alias=names.ENV_DRIFT_MIN_ROWS, ge=1
    )
