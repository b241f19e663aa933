"""The models block: which models a deployment holds, each one's settings layered over the
top-level keys, and every mistake refused naming the model and the key."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from infra_cdk.deployment import MODEL_KEYS, SHARED_KEYS, Deployment
from infra_cdk.drift_settings import DRIFT_DEFAULTS
from infra_cdk.settings import (
    DEFAULTS,
    RETRAINING_DEFAULTS,
    RetrainingSettingsError,
    Settings,
    SettingsError,
)
from infra_cdk.verdict_settings import VERDICT_DEFAULTS
from modelship import names


class Context:
    def __init__(self, **values: object) -> None:
        self.values = values

    def try_get_context(self, key: str) -> object:
        return self.values.get(key)


def deployment(**context: object) -> Deployment:
    return Deployment.from_context(Context(**context))


TWO = {"churn": {}, "churn-forest": {"trainingAlgorithm": "random_forest", "memorySize": 1536}}


def test_every_context_key_is_either_shared_or_per_model() -> None:
    known = set(SHARED_KEYS) | set(MODEL_KEYS) | {"modelName"}
    every = set(DEFAULTS) | set(RETRAINING_DEFAULTS) | set(DRIFT_DEFAULTS) | set(VERDICT_DEFAULTS)
    assert known == every | {
        "retraining",
        "apiRoutesQuota",
    }
    assert not set(SHARED_KEYS) & set(MODEL_KEYS)


def test_without_a_models_block_the_deployment_is_the_single_model_of_today() -> None:
    context = {"modelName": "fraud", "memorySize": 2048, "retrainSchedule": "rate(7 days)"}
    (model,) = deployment(**context).models
    assert model.settings == Settings.from_context(Context(**context))
    assert model.default
    assert model.retraining is not None
    assert model.retraining.schedule == "rate(7 days)"
    assert deployment(**context).stack_name == "modelship-dev"


def test_model_keys_override_the_top_level_ones_which_are_the_defaults() -> None:
    result = deployment(models=TWO, memorySize=2048, trainingAlgorithm="gradient_boosting")
    churn, forest = result.models
    assert (churn.name, churn.settings.memory_size) == ("churn", 2048)
    assert (forest.name, forest.settings.memory_size) == ("churn-forest", 1536)
    assert churn.retraining is not None
    assert forest.retraining is not None
    assert (churn.retraining.algorithm, forest.retraining.algorithm) == (
        "gradient_boosting",
        "random_forest",
    )
    assert result.model_names == ("churn", "churn-forest")


def test_the_models_block_may_come_from_the_command_line_as_json() -> None:
    assert deployment(models=json.dumps(TWO)).model_names == ("churn", "churn-forest")


@dataclass(frozen=True)
class DefaultCase:
    context: dict[str, Any]
    names: tuple[str, ...]


@pytest.mark.parametrize(
    "case",
    [
        # defaultModel wins, and goes first; the rest keep their order.
        DefaultCase({"models": {"a": {}, "b": {}, "c": {}}, "defaultModel": "b"}, ("b", "a", "c")),
        # else modelName when it is listed
        DefaultCase({"models": {"a": {}, "b": {}}, "modelName": "b"}, ("b", "a")),
        # else the first listed
        DefaultCase({"models": {"x": {}, "y": {}}, "modelName": "churn"}, ("x", "y")),
    ],
)
def test_the_default_model(case: DefaultCase) -> None:
    result = deployment(**case.context)
    assert result.model_names == case.names
    assert [m.default for m in result.models] == [True] + [False] * (len(case.names) - 1)


def test_retraining_is_on_unless_switched_off_per_model_or_for_all() -> None:
    models = {"a": {}, "b": {"retraining": "off"}, "c": {"retraining": True}}
    on = {m.name: m.retraining is not None for m in deployment(models=models).models}
    assert on == {"a": True, "b": False, "c": True}
    all_off = deployment(models=models, retraining=False).models
    assert {m.name: m.retraining is not None for m in all_off} == {
        "a": False,
        "b": False,
        "c": True,
    }


def test_app_name_names_the_stack() -> None:
    assert deployment(appName="fraud", stage="prod").stack_name == "fraud-prod"
    assert deployment().stack_name == f"{names.DEFAULT_APP_NAME}-dev"


@dataclass(frozen=True)
class Refused:
    context: dict[str, Any]
    says: tuple[str, ...]  # every part must be in the message
    error: type[SettingsError] = SettingsError


@pytest.mark.parametrize(
    "case",
    [
        Refused({"models": {"a": {"stage": "prod"}}}, ("'a'", "'stage'", "top level")),
        Refused({"models": {"a": {"aliasName": "x"}}}, ("'a'", "'aliasName'", "shared")),
        Refused({"models": {"a": {"throttleRateLimit": 5}}}, ("'a'", "'throttleRateLimit'")),
        Refused({"models": {"a": {"memorysize": 5}}}, ("'a'", "unknown key 'memorysize'")),
        Refused({"models": {"a": {"modelName": "b"}}}, ("'a'", "unknown key 'modelName'")),
        Refused({"models": {"a": {}, "b": {"memorySize": 64}}}, ("model 'b'", "'memorySize'")),
        Refused(
            {"models": {"a": {"trainingAlgorithm": "xgboost"}}},
            ("model 'a'", "trainingAlgorithm"),
            RetrainingSettingsError,
        ),
        Refused({"models": {"a": {"authMode": "jwt"}}}, ("model 'a'", "'jwtIssuer'")),
        Refused({"models": {"churn-forest": {}, "churn_forest": {}}}, ("churn-forest", "'_'")),
        Refused({"models": {"churnforest": {}, "churn-forest": {}}}, ("churnforest", "'-'")),
        Refused({"models": {"Churn": {}}}, ("'models.Churn'", "lowercase")),
        Refused({"models": {"a" * 64: {}}}, ("1-63",)),
        Refused({"models": {"a": "big"}}, ("'a'", "JSON object")),
        Refused({"models": {}}, ("'models'", "at least one model")),
        Refused({"models": "[1]"}, ("'models'",)),
        Refused({"models": {"a": {}}, "defaultModel": "b"}, ("'defaultModel'", "'b'", "a")),
        Refused({"defaultModel": "other"}, ("'defaultModel'", "'modelName'")),
        Refused({"appName": "Modelship"}, ("'appName'",)),
        Refused({"appName": "a" * 21}, ("'appName'",)),
        Refused({"appName": "9lives"}, ("'appName'",)),
    ],
    ids=lambda case: next(iter(case.says)),
)
def test_mistakes_are_refused_naming_the_model_and_key(case: Refused) -> None:
    with pytest.raises(case.error) as raised:
        deployment(**case.context)
    for part in case.says:
        assert part in str(raised.value)


def test_more_jwt_issuers_than_one_api_holds_authorizers_for_are_refused() -> None:
    models = {
        f"m{i}": {"authMode": "jwt", "jwtIssuer": f"https://issuer{i}.example.com"}
        for i in range(11)
    }
    with pytest.raises(SettingsError, match="at most 10 authorizers"):
        deployment(models=models, jwtAudience="api")
    # One issuer shared by all: one authorizer.
    shared = {name: {"authMode": "jwt"} for name in models}
    result = deployment(models=shared, jwtIssuer="https://issuer.example.com", jwtAudience="api")
    assert len(result.models) == 11


def test_more_models_than_the_apis_route_quota_holds_are_refused_unless_it_was_raised() -> None:
    models = {f"m{i:02d}": {} for i in range(75)}
    # 8 routes for the default model, 4 for each other: 74 models fill 300 routes.
    assert deployment(models=dict(list(models.items())[:74])).route_count == 300
    with pytest.raises(SettingsError, match=r"304 routes .* quota of 300 \(74 models fit\)"):
        deployment(models=models)
    assert len(deployment(models=models, apiRoutesQuota=400).models) == 75
    with pytest.raises(SettingsError, match="'apiRoutesQuota'"):
        deployment(models=models, apiRoutesQuota=100)


def test_the_route_counts_are_the_apis() -> None:
    from infra_cdk.deployment import DEFAULT_MODEL_ROUTES, MODEL_ROUTES_EACH
    from infra_cdk.predict_api import MODEL_ROUTES, ROUTES

    assert len(ROUTES) + len(MODEL_ROUTES) == DEFAULT_MODEL_ROUTES
    assert len(MODEL_ROUTES) == MODEL_ROUTES_EACH


def test_model_names_that_would_not_fit_lambdas_4_kb_of_environment_are_refused() -> None:
    # 74 models with 63-character names: 4,735 characters in DEPLOYMENT_MODELS alone.
    long_names = {f"{i:02d}" + "m" * 61: {} for i in range(74)}
    with pytest.raises(SettingsError, match="4 KB of environment"):
        deployment(models=long_names)
    # 40 of them fit: 2,559 characters.
    assert len(deployment(models=dict(list(long_names.items())[:40])).models) == 40


def _with_stack(result: Deployment, app_name: str, capture_rates: tuple[float, ...]) -> Deployment:
    """The deployment with another app name (past what 'appName' accepts today) and rates."""
    models = tuple(
        replace(m, settings=replace(m.settings, app_name=app_name, capture_sample_rate=rate))
        for m, rate in zip(result.models, capture_rates, strict=True)
    )
    return Deployment(models)


def test_a_capture_stream_name_over_firehoses_64_characters_is_refused_never_cut() -> None:
    # 'appName' and 'stage' (20 characters each) fit today; the check guards longer ones.
    longest = deployment(appName="a" * 20, stage="s" * 20, models=TWO)
    assert len(names.capture_stream_name(longest.stack_name)) <= names.MAX_CAPTURE_STREAM_NAME
    # Two stacks that differ only past the 56th character keep two streams.
    one, two = ("x" * 60 + "-one", "x" * 60 + "-two")
    assert names.capture_stream_name(one) != names.capture_stream_name(two)

    too_long = _with_stack(longest, "a" * 40, (0.0, 0.05))
    with pytest.raises(SettingsError) as refused:
        too_long._check_capture_stream()
    message = str(refused.value)
    assert "'appName'" in message
    assert "'stage'" in message
    assert "64" in message
    assert too_long.stack_name in message
    # Without capture there is no stream to name.
    _with_stack(longest, "a" * 40, (0.0, 0.0))._check_capture_stream()


def test_the_retired_drift_threshold_is_refused_naming_its_replacement() -> None:
    with pytest.raises(
        SettingsError, match=r"'driftThresholdPercent' is retired.*driftPsiThreshold"
    ):
        deployment(driftThresholdPercent=5)
    with pytest.raises(SettingsError, match="model 'churn-forest': key 'driftThresholdPercent'"):
        deployment(models={"churn": {}, "churn-forest": {"driftThresholdPercent": 5}})


def test_each_model_has_its_own_drift_monitor_settings_and_none_without_capture() -> None:
    models = deployment(
        driftSchedule="rate(30 minutes)",
        models={
            "churn": {"driftPsiThreshold": 0.3},
            "churn-forest": {"driftMinRows": 500},
            "quiet": {"captureSampleRate": 0},
        },
    ).models
    churn, forest, quiet = (m.drift for m in models)
    assert churn is not None
    assert forest is not None
    assert (churn.schedule, churn.psi_threshold, churn.min_rows) == ("rate(30 minutes)", 0.3, 200)
    assert (forest.psi_threshold, forest.min_rows) == (0.2, 500)
    assert churn.alarm_period_seconds == 1800
    assert quiet is None


@pytest.mark.parametrize(
    ("key", "value", "complaint"),
    [
        ("driftSchedule", "every hour", "driftSchedule"),
        ("driftSchedule", "rate(1 hours)", "singular"),
        ("driftSchedule", "cron(0 * * * * *)", "day-of-week"),
        ("driftWindowHours", 0, "driftWindowHours"),
        ("driftWindowHours", 721, "driftWindowHours"),
        ("driftPsiThreshold", 0, "driftPsiThreshold"),
        ("driftPValue", 1, "driftPValue"),
        ("driftPValue", "x", "driftPValue"),
        ("driftMinRows", 0, "driftMinRows"),
    ],
)
def test_bad_drift_monitor_values_name_the_key(key: str, value: object, complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        deployment(**{key: value})


@pytest.mark.parametrize(
    ("schedule", "period"),
    [
        ("rate(1 minute)", 60),
        ("rate(1 hour)", 3600),
        ("rate(1 day)", 86_400),
        ("rate(30 days)", 604_800),
        ("cron(0 3 * * ? *)", 3600),
        ("cron(0 3 L * ? *)", 3600),
    ],
)
def test_the_drift_alarm_period_is_one_schedule_interval(schedule: str, period: int) -> None:
    (model,) = deployment(driftSchedule=schedule).models
    assert model.drift is not None
    assert model.drift.alarm_period_seconds == period
