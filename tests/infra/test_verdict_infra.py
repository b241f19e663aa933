"""The canary verdict in the stack: the Judge and ExtendBake states of both state machines'
canary chain, the release task's verdict settings and its one new permission, and the
verdict context keys, refused with a message naming the key (and the timeout they outgrow)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra_cdk.deployment import Deployment
from infra_cdk.settings import SettingsError
from modelship import names
from tests.infra.template_queries import Synth, logical_id_starting


class Context:
    def __init__(self, **values: object) -> None:
        self.values = values

    def try_get_context(self, key: str) -> object:
        return self.values.get(key)


def _definition(template: Template, prefix: str) -> dict[str, Any]:
    machine_id = logical_id_starting(template, "AWS::StepFunctions::StateMachine", prefix)
    props = template.find_resources("AWS::StepFunctions::StateMachine")[machine_id]["Properties"]
    parts = props["DefinitionString"]["Fn::Join"][1]
    definition: dict[str, Any] = json.loads(
        "".join(p if isinstance(p, str) else '"ARN"' for p in parts).replace('""ARN""', '"ARN"')
    )
    return definition


def _step_states(template: Template, prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    steps = _definition(template, prefix)["States"]["CanarySteps"]
    return steps, steps["ItemProcessor"]["States"]


def _release_task(template: Template) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical, resource["Properties"])
        for logical, resource in template.find_resources("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == names.RELEASE_HANDLER
    ]
    return found


def _role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    (role,) = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in functions.values()
        if f["Properties"]["Handler"] == handler
    ]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


@pytest.mark.parametrize("machine", ["ReleaseMachine", "RetrainingPipeline"])
def test_each_step_is_judged_after_the_guardrails_and_extended_while_inconclusive(
    template: Template, machine: str
) -> None:
    steps, inner = _step_states(template, machine)

    # Every step starts at look 0; ApplyStep keeps its answer (applied_at) for the judge.
    assert steps["ItemSelector"]["verdict"] == {"next_look": 0}
    assert inner["ApplyStep"]["ResultPath"] == "$.applied"
    judge = inner["Judge"]
    assert judge["Parameters"] == {
        "action": "judge",
        "candidate.$": "$.candidate",
        "since.$": "$.applied.applied_at",
        "look.$": "$.verdict.next_look",
        "step.$": "$.index",
        "execution.$": "$.execution",
    }
    assert judge["ResultPath"] == "$.verdict"
    assert judge["Next"] == "Extend?"
    extend = inner["Extend?"]
    assert extend["Type"] == "Choice"
    assert extend["Choices"] == [
        {"Variable": "$.verdict.extend", "BooleanEquals": True, "Next": "ExtendBake"}
    ]
    assert inner[extend["Default"]]["Type"] == "Pass"
    assert inner[extend["Default"]].get("End") is True
    # The extension waits as the judge says, then the fast path and the judge run again.
    assert inner["ExtendBake"] == {
        "Type": "Wait",
        "SecondsPath": "$.verdict.extension_seconds",
        "Next": "CheckGuardrails",
    }
    # A failed or finally inconclusive verdict is a task error: the Map's Catch rolls back.
    assert steps["Catch"][0]["ErrorEquals"] == ["States.ALL"]
    assert steps["Catch"][0]["Next"] == "Rollback"


def test_the_release_task_gets_the_verdict_settings(synth: Synth) -> None:
    template = synth(
        verdictMinRequests=20, verdictOnInconclusive="proceed", verdictExtensionSeconds="90"
    )
    _, props = _release_task(template)
    variables = props["Environment"]["Variables"]

    assert variables[names.ENV_VERDICT_MIN_REQUESTS] == "20"
    assert variables[names.ENV_VERDICT_ON_INCONCLUSIVE] == "proceed"
    assert variables[names.ENV_VERDICT_EXTENSION_SECONDS] == "90"
    assert variables[names.ENV_VERDICT_ALPHA] == repr(names.DEFAULT_VERDICT_ALPHA)
    assert variables[names.ENV_VERDICT_MAX_EXTENSIONS] == str(names.DEFAULT_VERDICT_MAX_EXTENSIONS)
    # The rollback function does not judge.
    (rollback,) = [
        resource["Properties"]
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"]["Handler"] == names.ROLLBACK_HANDLER
    ]
    assert not [v for v in rollback["Environment"]["Variables"] if v.startswith("VERDICT_")]


def test_only_the_release_task_reads_metrics_and_on_no_resource(template: Template) -> None:
    release = _role_statements(template, names.RELEASE_HANDLER)
    rollback = _role_statements(template, names.ROLLBACK_HANDLER)

    (reads,) = [s for s in release if "cloudwatch:GetMetricData" in json.dumps(s["Action"])]
    assert reads["Action"] == "cloudwatch:GetMetricData"
    # GetMetricData authorizes classic metrics on no resource (its only resource type,
    # `dataset`, is OTLP's): "*" is the resource.
    assert reads["Resource"] == "*"
    assert not [s for s in rollback if "cloudwatch:GetMetricData" in json.dumps(s["Action"])]


def test_a_model_may_set_its_own_verdict_keys() -> None:
    deployment = Deployment.from_context(
        Context(
            verdictMinRequests=50,
            models={"churn": {}, "ltv": {"verdictMinRequests": 20, "verdictMaxExtensions": 0}},
        )
    )
    churn, ltv = deployment.models

    assert (churn.verdict.min_requests, churn.verdict.max_extensions) == (50, 3)
    assert (ltv.verdict.min_requests, ltv.verdict.max_extensions) == (20, 0)
    assert ltv.verdict.environment()[names.ENV_VERDICT_MIN_REQUESTS] == "20"


def test_the_defaults_come_from_the_shared_names() -> None:
    verdict = Deployment.from_context(Context()).default.verdict

    assert verdict.environment() == {
        names.ENV_VERDICT_ALPHA: repr(names.DEFAULT_VERDICT_ALPHA),
        names.ENV_VERDICT_MIN_REQUESTS: str(names.DEFAULT_VERDICT_MIN_REQUESTS),
        names.ENV_VERDICT_ERROR_MARGIN_PERCENT: repr(names.DEFAULT_VERDICT_ERROR_MARGIN_PERCENT),
        names.ENV_VERDICT_LATENCY_TOLERANCE_PERCENT: repr(
            names.DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT
        ),
        names.ENV_VERDICT_SCORE_SHIFT_MAX: repr(names.DEFAULT_VERDICT_SCORE_SHIFT_MAX),
        names.ENV_VERDICT_EXTENSION_SECONDS: str(names.DEFAULT_VERDICT_EXTENSION_SECONDS),
        names.ENV_VERDICT_MAX_EXTENSIONS: str(names.DEFAULT_VERDICT_MAX_EXTENSIONS),
        names.ENV_VERDICT_ON_INCONCLUSIVE: names.DEFAULT_VERDICT_ON_INCONCLUSIVE,
    }


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("verdictAlpha", 0, "must be above 0"),
        ("verdictAlpha", 0.8, "between 0 and 0.5"),
        ("verdictAlpha", "often", "must be a number"),
        ("verdictMinRequests", 0, "between 1 and"),
        ("verdictMinRequests", 2.5, "whole number"),
        ("verdictErrorMarginPercent", 100, "must be below 100"),
        ("verdictLatencyTolerancePercent", -5, "between 0 and 1000"),
        ("verdictScoreShiftMax", 1, "must be below 1"),
        ("verdictExtensionSeconds", 30, "at least 60 s"),
        ("verdictMaxExtensions", 21, "between 0 and 20"),
        ("verdictOnInconclusive", "ignore", "rollback, proceed"),
    ],
)
def test_bad_verdict_values_name_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(SettingsError, match=f"'{key}'.*{message}"):
        Deployment.from_context(Context(**{key: value}))


def test_a_bad_verdict_value_inside_a_model_names_the_model() -> None:
    with pytest.raises(SettingsError, match="model 'ltv': context 'verdictMinRequests'"):
        Deployment.from_context(Context(models={"churn": {}, "ltv": {"verdictMinRequests": 0}}))


def test_the_release_timeout_must_cover_one_steps_extensions() -> None:
    # 20 extensions of an hour, plus a step's tasks, outlast a 12-hour release state machine.
    context = {"verdictMaxExtensions": 20, "verdictExtensionSeconds": 3600}

    with pytest.raises(SettingsError) as raised:
        Deployment.from_context(Context(releaseTimeoutHours=12, **context))

    message = str(raised.value)
    assert "'releaseTimeoutHours' (12 h)" in message
    assert "'verdictMaxExtensions' (20)" in message
    assert "'verdictExtensionSeconds' (3600 s)" in message
    assert Deployment.from_context(Context(releaseTimeoutHours=24, retraining="off", **context))


def test_the_retraining_plan_with_its_extensions_must_fit_the_retraining_machine() -> None:
    # Two 10-hour bakes and three extensions of an hour each: 26 h, over the 24 h a
    # retraining run leaves its canary.
    context = {"releasePlan": "10:10h,50:10h,100", "verdictExtensionSeconds": 3600}

    with pytest.raises(SettingsError, match=r"'releasePlan' .* 26\.\d h, longer than the 24 h"):
        Deployment.from_context(Context(**context))
    assert Deployment.from_context(Context(retraining="off", **context))
    assert Deployment.from_context(Context(**{**context, "verdictMaxExtensions": 1}))
