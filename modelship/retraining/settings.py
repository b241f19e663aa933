"""Settings of the retraining step tasks and trigger functions, validated once at cold start."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, ValidationError

from modelship import names
from modelship.env import EnvSettings, FromJson, decode_json
from modelship.errors import ConfigurationError, InvalidRolloutPlan
from modelship.releases.plan import PlanStep, steps_from_input
from modelship.retraining.gates import GateConfig

# What a run's execution input may change (`options`); the rest is the deployment's.
RUN_OPTIONS = frozenset({"algorithm", "params", "gates", "holdout_fraction", "seed", "entry_point"})
# A run's options may name these only when no training entry point is in effect.
BUILTIN_ONLY_OPTIONS = frozenset({"algorithm", "params"})


def _release_plan(value: Any) -> tuple[PlanStep, ...]:
    """The RELEASE_PLAN variable: the JSON steps the CDK app wrote, checked by the one plan
    module as the release chain will read them."""
    decoded = decode_json(value)
    if decoded in ([], ()):
        return ()
    try:
        return steps_from_input(decoded, name=names.ENV_RELEASE_PLAN)
    except InvalidRolloutPlan as exc:
        raise ValueError(str(exc)) from None


# A SageMaker hyperparameter value is at most 2,500 characters (CreateTrainingJob).
MAX_ENTRY_POINT_LENGTH = 2500


def check_entry_point(value: str) -> str:
    """`package.module:function` or empty (the built-in algorithms); ValueError otherwise."""
    if len(value) > MAX_ENTRY_POINT_LENGTH:
        raise ValueError(f"a training entry point is at most {MAX_ENTRY_POINT_LENGTH} characters")
    if value and not re.fullmatch(names.TRAINING_ENTRY_POINT_PATTERN, value):
        raise ValueError(
            "must be package.module:function (Python identifiers only), "
            "or empty for the built-in algorithms"
        )
    return value


class RetrainingSettings(EnvSettings):
    """Step task configuration from the environment; execution input may override
    `algorithm`, `params`, `gates`, `holdout_fraction`, `seed` and `entry_point`."""

    model_config = ConfigDict(title="retraining")

    model_bucket: str = Field(validation_alias=names.ENV_MODEL_BUCKET, min_length=3)
    model_name: str = Field(validation_alias=names.ENV_MODEL_NAME, min_length=1)
    predict_function: str = Field(default="", validation_alias=names.ENV_PREDICT_FUNCTION)
    alias_name: str = Field(default=names.DEFAULT_ALIAS_NAME, validation_alias=names.ENV_ALIAS_NAME)
    algorithm: str = Field(
        default="logistic_regression", validation_alias=names.ENV_TRAINING_ALGORITHM
    )
    params: Annotated[dict[str, float | int | str | bool | None], FromJson] = Field(
        default_factory=dict, validation_alias=names.ENV_TRAINING_PARAMS
    )
    # The user's training function ("package.module:function"); "" = the built-in algorithm.
    training_entry_point: Annotated[str, AfterValidator(check_entry_point)] = Field(
        default="", validation_alias=names.ENV_TRAINING_ENTRY_POINT
    )
    # Where the user's code was staged (importable, and zipped into the packaged model): a
    # relative path is under the function's task root, where Lambda unpacks the asset.
    training_code_dir: Path | None = Field(
        default=None, validation_alias=names.ENV_TRAINING_CODE_DIR
    )
    task_root: Path = Field(default=Path("/var/task"), validation_alias=names.ENV_LAMBDA_TASK_ROOT)
    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    seed: int = 42
    gates: Annotated[GateConfig, FromJson] = Field(
        default_factory=GateConfig, validation_alias=names.ENV_QUALITY_GATES
    )
    # Canary plan for a challenger that passed the gates, unless the run's input has `steps`.
    release_plan: Annotated[tuple[PlanStep, ...], BeforeValidator(_release_plan)] = Field(
        default=(), validation_alias=names.ENV_RELEASE_PLAN
    )
    # Where the run's outcome is published; empty: not published.
    notify_topic_arn: str = Field(default="", validation_alias=names.ENV_NOTIFY_TOPIC)
    work_dir: Path = Path(tempfile.gettempdir()) / "modelship-retraining"

    @property
    def code_dir(self) -> Path | None:
        """The user's code directory (an absolute TRAINING_CODE_DIR stays as it is)."""
        return None if self.training_code_dir is None else self.task_root / self.training_code_dir

    def with_overrides(self, overrides: Mapping[str, Any]) -> RetrainingSettings:
        unknown = set(overrides) - RUN_OPTIONS
        if unknown:
            raise ConfigurationError(f"unknown retraining options: {sorted(unknown)}")
        renamed = {
            ("training_entry_point" if k == "entry_point" else k): v for k, v in overrides.items()
        }
        try:
            updated = self.model_validate(
                {**self.model_dump(), **renamed}, by_alias=False, by_name=True
            )
        except ValidationError as exc:
            raise ConfigurationError(f"invalid retraining options: {exc}") from None
        builtin_only = sorted(BUILTIN_ONLY_OPTIONS & set(overrides))
        if updated.training_entry_point and builtin_only:
            raise ConfigurationError(
                f"retraining options {builtin_only} choose a built-in algorithm, but the "
                f"training entry point {updated.training_entry_point} trains this run: set "
                'the option entry_point to "" to train with a built-in algorithm'
            )
        return updated


class TriggerSettings(EnvSettings):
    """The trigger function: which model's retraining machine it starts."""

    model_config = ConfigDict(title="retraining trigger")

    model_name: str = Field(validation_alias=names.ENV_MODEL_NAME, min_length=1)
    state_machine_arn: str = Field(validation_alias=names.ENV_RETRAIN_STATE_MACHINE, min_length=1)
