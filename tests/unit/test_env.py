"""The one settings loader: every function's environment, and errors that name the variable."""

from __future__ import annotations

import pytest
from pydantic import ConfigDict, Field, SecretStr

from modelship import names
from modelship.env import EnvSettings, load, variables
from modelship.errors import ConfigurationError
from modelship.local.handler_runner import load_handler
from modelship.releases.settings import ReleaseSettings
from modelship.retraining.settings import RetrainingSettings, TriggerSettings
from modelship.serving.settings import PredictSettings

PREDICT = {names.ENV_MODEL_BUCKET: "my-models", names.ENV_MODEL_NAME: "churn"}
RELEASE = {names.ENV_PREDICT_FUNCTION: "predict", names.ENV_RELEASE_BUCKET: "my-models"}
RETRAINING = {names.ENV_MODEL_BUCKET: "my-models", names.ENV_MODEL_NAME: "churn"}
TRIGGER = {
    names.ENV_MODEL_NAME: "churn",
    names.ENV_RETRAIN_STATE_MACHINE: "arn:aws:states:us-east-1:123456789012:stateMachine:r",
}
GOOD = {
    PredictSettings: PREDICT,
    ReleaseSettings: RELEASE,
    RetrainingSettings: RETRAINING,
    TriggerSettings: TRIGGER,
}

# (settings model, environment, the whole error after "invalid <function> configuration: ")
CASES = [
    # predict function
    (PredictSettings, {}, "MODEL_BUCKET is missing; MODEL_NAME is missing"),
    (
        PredictSettings,
        {**PREDICT, "MAX_ROWS": "abc"},
        "MAX_ROWS: Input should be a valid integer, unable to parse string as an integer, "
        "got 'abc'",
    ),
    (
        PredictSettings,
        {**PREDICT, "MAX_ROWS": "0"},
        "MAX_ROWS: Input should be greater than or equal to 1, got '0'",
    ),
    (
        PredictSettings,
        {**PREDICT, "MAX_BODY_BYTES": "10"},
        "MAX_BODY_BYTES: Input should be greater than or equal to 1024, got '10'",
    ),
    (
        PredictSettings,
        {**PREDICT, "MODEL_SHA256": "abc"},
        "MODEL_SHA256: String should match pattern '^[0-9a-f]{64}$', got 'abc'",
    ),
    # release task and rollback functions
    (ReleaseSettings, {}, "PREDICT_FUNCTION_NAME is missing; RELEASE_BUCKET is missing"),
    (
        ReleaseSettings,
        {**RELEASE, "GUARDRAIL_ERROR_RATE_PERCENT": "150"},
        "GUARDRAIL_ERROR_RATE_PERCENT: Input should be less than or equal to 100, got '150'",
    ),
    (
        ReleaseSettings,
        {**RELEASE, "GUARDRAIL_PERIOD_SECONDS": "5"},
        "GUARDRAIL_PERIOD_SECONDS: Input should be greater than or equal to 10, got '5'",
    ),
    (
        ReleaseSettings,
        {**RELEASE, "VERDICT_ALPHA": "0"},
        "VERDICT_ALPHA: Input should be greater than 0, got '0'",
    ),
    (
        ReleaseSettings,
        {**RELEASE, "VERDICT_EXTENSION_SECONDS": "30"},
        "VERDICT_EXTENSION_SECONDS: Input should be greater than or equal to 60, got '30'",
    ),
    (
        ReleaseSettings,
        {**RELEASE, "VERDICT_ON_INCONCLUSIVE": "ignore"},
        "VERDICT_ON_INCONCLUSIVE: must be one of rollback, proceed, got 'ignore'",
    ),
    # retraining step tasks
    (RetrainingSettings, {names.ENV_MODEL_NAME: "churn"}, "MODEL_BUCKET is missing"),
    (
        RetrainingSettings,
        {**RETRAINING, "QUALITY_GATES": "{not json"},
        "QUALITY_GATES: must be JSON (Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1)), got '{not json'",
    ),
    (
        RetrainingSettings,
        {**RETRAINING, "QUALITY_GATES": '{"min_roc_auc": "high"}'},
        "QUALITY_GATES.min_roc_auc: Input should be a valid number, unable to parse string as "
        "a number, got 'high'",
    ),
    (
        RetrainingSettings,
        {**RETRAINING, "TRAINING_PARAMS": "[1, 2]"},
        "TRAINING_PARAMS: Input should be a valid dictionary, got [1, 2]",
    ),
    (
        RetrainingSettings,
        {**RETRAINING, "RELEASE_PLAN": '[{"weight": 1.5, "bake_seconds": 60}]'},
        "RELEASE_PLAN[0]: step {'weight': 1.5, 'bake_seconds': 60}: weight must be between 0 "
        'and 1 exclusive (to 6 decimals), got \'[{"weight": 1.5, "bake_seconds": 60}]\'',
    ),
    # retraining trigger function
    (TriggerSettings, {}, "MODEL_NAME is missing; RETRAIN_STATE_MACHINE_ARN is missing"),
    (
        TriggerSettings,
        {names.ENV_RETRAIN_STATE_MACHINE: "arn:aws:states:us-east-1:1:stateMachine:r"},
        "MODEL_NAME is missing",
    ),
]


@pytest.mark.parametrize(("model", "environ", "expected"), CASES)
def test_a_missing_or_bad_variable_is_named_in_the_error(
    model: type[EnvSettings], environ: dict[str, str], expected: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(model, environ)

    title = model.model_config.get("title")
    assert str(raised.value) == f"invalid {title} configuration: {expected}"


@pytest.mark.parametrize("model", list(GOOD))
def test_every_field_read_from_the_environment_is_named_in_names(
    model: type[EnvSettings],
) -> None:
    declared = {
        value
        for key, value in vars(names).items()
        if key.startswith("ENV_") and isinstance(value, str)
    }

    assert set(variables(model)) <= declared
    assert load(model, GOOD[model]) is not None


@pytest.mark.parametrize("model", list(GOOD))
def test_a_field_name_is_not_read_as_a_variable(model: type[EnvSettings]) -> None:
    by_field_name = {variables(model)[var]: value for var, value in GOOD[model].items()}

    with pytest.raises(ConfigurationError, match="is missing"):
        load(model, by_field_name)
    with pytest.raises(ValueError, match="Field required"):
        model.model_validate(by_field_name)


def test_an_empty_variable_is_unset_and_its_default_applies() -> None:
    settings = load(PredictSettings, {**PREDICT, "MAX_ROWS": "", "MODEL_VERSION": ""})

    assert (settings.max_rows, settings.model_version) == (names.DEFAULT_MAX_ROWS, "")


def test_unrelated_variables_are_ignored() -> None:
    settings = load(TriggerSettings, {**TRIGGER, "PATH": "/usr/bin", "model_name": "other"})

    assert settings.model_name == "churn"


def test_a_secret_value_is_never_echoed() -> None:
    class WithSecret(EnvSettings):
        model_config = ConfigDict(title="test")

        token: SecretStr = Field(validation_alias="API_TOKEN", min_length=40)

    with pytest.raises(ConfigurationError) as raised:
        load(WithSecret, {"API_TOKEN": "hunter2"})

    assert "API_TOKEN" in str(raised.value)
    assert "hunter2" not in str(raised.value)


def test_a_long_value_is_shortened_in_the_error() -> None:
    with pytest.raises(ConfigurationError) as raised:
        load(PredictSettings, {**PREDICT, "MODEL_SHA256": "z" * 500})

    assert "z" * 70 in str(raised.value)
    assert len(str(raised.value)) < 250


@pytest.mark.parametrize(
    ("handler", "missing"),
    [
        (names.PREDICT_HANDLER, names.ENV_MODEL_BUCKET),
        (names.RELEASE_HANDLER, names.ENV_PREDICT_FUNCTION),
        (names.ROLLBACK_HANDLER, names.ENV_RELEASE_BUCKET),
        ("functions.retraining.app.prepare", names.ENV_MODEL_BUCKET),
        ("functions.retraining.trigger.lambda_handler", names.ENV_RETRAIN_STATE_MACHINE),
    ],
)
def test_each_function_fails_its_cold_start_naming_the_variable(
    handler: str, missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in {**PREDICT, **RELEASE, **RETRAINING, **TRIGGER}:
        monkeypatch.setenv(variable, "my-models")
    monkeypatch.delenv(missing)

    with pytest.raises(ConfigurationError, match=f"{missing} is missing"):
        load_handler(handler)


def test_the_release_settings_build_the_verdict_policy_from_percentages() -> None:
    settings = load(
        ReleaseSettings,
        {
            **RELEASE,
            "VERDICT_ALPHA": "0.05",
            "VERDICT_MIN_REQUESTS": "20",
            "VERDICT_ERROR_MARGIN_PERCENT": "2.5",
            "VERDICT_LATENCY_TOLERANCE_PERCENT": "50",
            "VERDICT_SCORE_SHIFT_MAX": "0.3",
            "VERDICT_EXTENSION_SECONDS": "300",
            "VERDICT_MAX_EXTENSIONS": "0",
            "VERDICT_ON_INCONCLUSIVE": "proceed",
        },
    )

    policy = settings.verdict_policy
    assert (policy.alpha, policy.min_requests, policy.error_margin) == (0.05, 20, 0.025)
    assert (policy.latency_tolerance, policy.score_shift_max) == (0.5, 0.3)
    assert (policy.max_extensions, policy.on_inconclusive) == (0, "proceed")
    assert settings.verdict_extension_seconds == 300


def test_the_verdict_defaults_are_the_judges() -> None:
    from modelship.releases.verdict import VerdictPolicy

    assert load(ReleaseSettings, RELEASE).verdict_policy == VerdictPolicy()
