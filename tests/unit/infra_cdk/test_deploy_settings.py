"""CDK context settings that limit what AWS or the runtime accepts, refused at synth."""

from __future__ import annotations

import pytest

from infra_cdk.settings import Settings, SettingsError
from modelship import names
from modelship.env import load
from modelship.serving.settings import PredictSettings


class Context:
    def __init__(self, **values: object) -> None:
        self.values = values

    def try_get_context(self, key: str) -> object:
        return self.values.get(key)


@pytest.mark.parametrize("period", [45, 10, 30, 90, 0, 86_460])
def test_guardrail_period_must_be_a_whole_number_of_minutes(period: int) -> None:
    with pytest.raises(SettingsError, match="'guardrailPeriodSeconds'") as raised:
        Settings.from_context(Context(guardrailPeriodSeconds=period))
    assert "jsii" not in str(raised.value)


@pytest.mark.parametrize("period", [60, 120, 300, 86_400])
def test_guardrail_periods_cloudwatch_accepts_pass(period: int) -> None:
    settings = Settings.from_context(Context(guardrailPeriodSeconds=period))
    assert settings.guardrail_period_seconds == period


def test_max_body_bytes_below_what_the_predict_function_accepts_is_refused() -> None:
    with pytest.raises(SettingsError, match="'maxBodyBytes'"):
        Settings.from_context(Context(maxBodyBytes=500))
    lowest = Settings.from_context(Context(maxBodyBytes=names.MIN_MAX_BODY_BYTES))
    # The predict function starts with the smallest value synth lets through.
    environ = {
        names.ENV_MODEL_BUCKET: "bucket",
        names.ENV_MODEL_NAME: "churn",
        names.ENV_MAX_BODY_BYTES: str(lowest.max_body_bytes),
    }
    assert load(PredictSettings, environ).max_body_bytes == lowest.max_body_bytes


def test_guardrail_min_requests_and_throttle_rate_have_defaults() -> None:
    settings = Settings.from_context(Context())
    assert settings.guardrail_min_requests == names.DEFAULT_GUARDRAIL_MIN_REQUESTS
    assert settings.guardrail_throttle_rate_percent == names.DEFAULT_GUARDRAIL_THROTTLE_RATE_PERCENT


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("guardrailMinRequests", 0),
        ("guardrailMinRequests", "many"),
        ("guardrailThrottleRatePercent", 0),
        ("guardrailThrottleRatePercent", 101),
    ],
)
def test_bad_guardrail_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"'{key}'"):
        Settings.from_context(Context(**{key: value}))


@pytest.mark.parametrize(
    "context",
    [
        {"guardrailMinRequests": 10},  # 1 error in 10 = 10% > 5%
        {"guardrailMinRequests": 20, "guardrailErrorRatePercent": 1},
        {
            "guardrailMinRequests": 5,
            "guardrailThrottleRatePercent": 10,
            "guardrailErrorRatePercent": 50,
        },
    ],
)
def test_a_single_failed_request_may_never_cross_a_threshold(context: dict[str, object]) -> None:
    with pytest.raises(SettingsError, match=r"'guardrailMinRequests'.*single failed request"):
        Settings.from_context(Context(**context))


def test_enough_requests_for_a_low_threshold_pass() -> None:
    settings = Settings.from_context(Context(guardrailMinRequests=100, guardrailErrorRatePercent=1))
    assert settings.guardrail_min_requests == 100


def test_cdk_json_lists_every_setting_with_its_default() -> None:
    import json
    from pathlib import Path

    from infra_cdk.settings import DEFAULTS, RETRAINING_DEFAULTS

    context = json.loads((Path(__file__).parents[3] / "cdk.json").read_text())["context"]

    assert {key: context.get(key) for key in DEFAULTS} == DEFAULTS
    assert {key: context.get(key) for key in RETRAINING_DEFAULTS} == RETRAINING_DEFAULTS


def test_capture_keys_default_and_parse() -> None:
    default = Settings.from_context(Context())
    assert default.capture_sample_rate == names.DEFAULT_CAPTURE_SAMPLE_RATE
    assert default.captures
    assert default.capture_exclude_fields == ()
    assert default.capture_retention_days == names.DEFAULT_CAPTURE_RETENTION_DAYS

    off = Settings.from_context(Context(captureSampleRate="0"))
    assert not off.captures
    listed = Settings.from_context(Context(captureExcludeFields=["email", "phone"]))
    assert listed.capture_exclude_fields == ("email", "phone")
    typed = Settings.from_context(Context(captureExcludeFields="email, phone"))  # -c form
    assert typed.capture_exclude_fields == ("email", "phone")


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"captureSampleRate": 1.5}, "'captureSampleRate'"),
        ({"captureSampleRate": "often"}, "'captureSampleRate'"),
        ({"captureExcludeFields": ["a,b"]}, "'captureExcludeFields' must be a list of distinct"),
        ({"captureExcludeFields": ["email", "email"]}, "'captureExcludeFields' must be a list"),
        ({"captureExcludeFields": [3]}, "'captureExcludeFields' must be a list"),
        ({"captureExcludeFields": {"email": True}}, "'captureExcludeFields' must be a list"),
        ({"captureExcludeFields": ["f" * 600, "g" * 600]}, "more than 1024 characters"),
        ({"captureRetentionDays": 0}, "'captureRetentionDays'"),
    ],
)
def test_bad_capture_keys_are_refused_naming_the_key(
    context: dict[str, object], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_context(Context(**context))


def test_a_model_may_set_its_capture_but_not_the_retention() -> None:
    from infra_cdk.deployment import Deployment

    deployment = Deployment.from_context(
        Context(models={"churn": {"captureSampleRate": 0}, "ltv": {"captureExcludeFields": ["x"]}})
    )
    churn, ltv = deployment.models
    assert (churn.settings.captures, ltv.settings.capture_exclude_fields) == (False, ("x",))
    with pytest.raises(SettingsError, match="'captureRetentionDays' is shared"):
        Deployment.from_context(Context(models={"churn": {"captureRetentionDays": 7}}))
