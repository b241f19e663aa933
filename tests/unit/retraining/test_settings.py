import json
from pathlib import Path

import pytest

from modelship.env import load
from modelship.errors import ConfigurationError
from modelship.retraining.settings import RetrainingSettings

BASE = {"MODEL_BUCKET": "models", "MODEL_NAME": "churn"}


def test_release_plan_comes_from_the_environment() -> None:
    plan = [{"weight": 0.1, "bake_seconds": 600}, {"weight": 0.5, "bake_seconds": 600}]

    settings = load(RetrainingSettings, {**BASE, "RELEASE_PLAN": json.dumps(plan)})

    assert [s.as_input() for s in settings.release_plan] == plan


@pytest.mark.parametrize(
    "plan",
    [
        '[{"weight": 1.5, "bake_seconds": 60}]',
        '[{"weight": 0.1}]',
        "not json",
        '[{"weight": 0.5, "bake_seconds": 60}, {"weight": 0.1, "bake_seconds": 60}]',
    ],
)
def test_a_bad_release_plan_fails_at_cold_start(plan: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid retraining configuration: RELEASE_PLAN"):
        load(RetrainingSettings, {**BASE, "RELEASE_PLAN": plan})


def test_run_options_may_not_change_the_plan() -> None:
    settings = load(RetrainingSettings, BASE)

    with pytest.raises(ConfigurationError, match="unknown retraining options"):
        settings.with_overrides({"release_plan": []})


def test_a_malformed_training_entry_point_fails_at_cold_start() -> None:
    with pytest.raises(
        ConfigurationError, match=r"TRAINING_ENTRY_POINT: .*package\.module:function"
    ):
        load(RetrainingSettings, {**BASE, "TRAINING_ENTRY_POINT": "churn_code.train"})


def test_a_run_may_choose_its_entry_point_or_the_built_in_algorithm() -> None:
    settings = load(RetrainingSettings, {**BASE, "TRAINING_ENTRY_POINT": "churn_code.train:fit"})

    assert settings.with_overrides({"entry_point": "other.mod:fit"}).training_entry_point == (
        "other.mod:fit"
    )
    builtin = settings.with_overrides({"entry_point": "", "algorithm": "random_forest"})
    assert (builtin.training_entry_point, builtin.algorithm) == ("", "random_forest")
    with pytest.raises(ConfigurationError, match=r"\['algorithm'\] choose a built-in algorithm"):
        settings.with_overrides({"algorithm": "random_forest"})
    with pytest.raises(ConfigurationError, match="invalid retraining options"):
        settings.with_overrides({"entry_point": "not an entry point"})
    # SageMaker takes a hyperparameter of at most 2,500 characters: refused at Prepare
    too_long = "m" * 2500 + ":fit"
    with pytest.raises(ConfigurationError, match="at most 2500 characters"):
        settings.with_overrides({"entry_point": too_long})


def test_the_training_code_directory_is_under_the_task_root() -> None:
    # On AWS the asset is at $LAMBDA_TASK_ROOT (/var/task); the emulator sets its own root
    relative = load(RetrainingSettings, {**BASE, "TRAINING_CODE_DIR": "training_code"})
    assert relative.code_dir == Path("/var/task/training_code")
    local = load(
        RetrainingSettings,
        {**BASE, "TRAINING_CODE_DIR": "training_code", "LAMBDA_TASK_ROOT": "/work/asset"},
    )
    assert local.code_dir == Path("/work/asset/training_code")
    absolute = load(RetrainingSettings, {**BASE, "TRAINING_CODE_DIR": "/opt/ml/code"})
    assert absolute.code_dir == Path("/opt/ml/code")
    assert load(RetrainingSettings, BASE).code_dir is None
