from pathlib import Path

import pytest

from modelship.env import load
from modelship.errors import ConfigurationError
from modelship.serving.settings import PredictSettings

BASE = {"MODEL_BUCKET": "my-models", "MODEL_NAME": "churn"}


def test_defaults_apply_when_only_the_required_variables_are_set() -> None:
    settings = load(PredictSettings, BASE)

    assert settings.max_rows == 1000
    assert settings.model_version == ""
    assert settings.cache_dir == Path("/tmp/modelship-cache")
    assert settings.ephemeral_storage_mb == 512


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MODEL_NAME": "churn"}, "MODEL_BUCKET"),
        ({**BASE, "MAX_ROWS": "lots"}, "MAX_ROWS"),
        ({**BASE, "MAX_ROWS": "0"}, "MAX_ROWS"),
        ({**BASE, "MODEL_SHA256": "abc"}, "MODEL_SHA256"),
        ({**BASE, "EPHEMERAL_STORAGE_MB": "100"}, "EPHEMERAL_STORAGE_MB"),
        ({**BASE, "MODEL_NAME": "bad name"}, "MODEL_NAME"),
        ({**BASE, "DEPLOYMENT_MODELS": "forest,ltv"}, "DEPLOYMENT_MODELS"),
    ],
)
def test_a_bad_or_missing_variable_fails_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load(PredictSettings, env)


def test_values_are_parsed() -> None:
    settings = load(
        PredictSettings,
        {**BASE, "MAX_ROWS": "50", "MODEL_VERSION": "v3", "EPHEMERAL_STORAGE_MB": "2048"},
    )

    assert (settings.max_rows, settings.model_version, settings.ephemeral_storage_mb) == (
        50,
        "v3",
        2048,
    )


def test_deployment_models_default_to_the_functions_own_model() -> None:
    assert load(PredictSettings, BASE).models == ("churn",)


def test_deployment_models_keep_their_order_default_first() -> None:
    settings = load(PredictSettings, {**BASE, "DEPLOYMENT_MODELS": "ltv, churn ,churn_forest"})

    assert settings.models == ("ltv", "churn", "churn_forest")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("churn,Forest", r"'Forest' must match"),
        ("churn,,ltv", r"'' must match"),
        ("churn,ltv,", r"'' must match"),
        ("churn,x" + "y" * 63, r"must match"),
        ("churn,ltv,churn", r"lists churn more than once"),
        ("ltv,forest", r"does not list this function's model churn \(MODEL_NAME\)"),
    ],
)
def test_bad_deployment_models_fail_naming_the_variable_and_the_problem(
    value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"DEPLOYMENT_MODELS.*{message}"):
        load(PredictSettings, {**BASE, "DEPLOYMENT_MODELS": value})


def test_capture_is_off_by_default_and_parsed_when_set() -> None:
    assert load(PredictSettings, BASE).capture_stream == ""
    settings = load(
        PredictSettings,
        {
            **BASE,
            "CAPTURE_STREAM": "modelship-dev-capture",
            "CAPTURE_SAMPLE_RATE": "0.25",
            "CAPTURE_EXCLUDE_FIELDS": "email, phone",
        },
    )

    assert settings.capture_stream == "modelship-dev-capture"
    assert settings.capture_sample_rate == 0.25
    assert settings.capture_exclude_fields == ("email", "phone")


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CAPTURE_SAMPLE_RATE": "1.5"}, "CAPTURE_SAMPLE_RATE"),
        ({"CAPTURE_SAMPLE_RATE": "-0.1"}, "CAPTURE_SAMPLE_RATE"),
        ({"CAPTURE_STREAM": "no spaces"}, "CAPTURE_STREAM"),
        ({"CAPTURE_EXCLUDE_FIELDS": "email,,phone"}, "CAPTURE_EXCLUDE_FIELDS"),
    ],
)
def test_bad_capture_settings_fail_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load(PredictSettings, {**BASE, **env})
