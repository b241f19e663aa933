"""The retraining pipeline as synthesized: state machine shape, triggers, switches, IAM."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra_cdk.retraining import RetrainingSettingsError, parse_release_plan
from tests.infra.template_queries import Synth, logical_id_starting

PIPELINE = "functions.pipeline.app."


def _machine(template: Template) -> dict[str, Any]:
    logical = logical_id_starting(template, "AWS::StepFunctions::StateMachine", "Retraining")
    props = template.find_resources("AWS::StepFunctions::StateMachine")[logical]["Properties"]
    parts = props["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    return {"props": props, "definition": json.loads(text)}


def _role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    (role,) = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in functions.values()
        if f["Properties"]["Handler"] == handler
    ]
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _s3_object_prefixes(statements: list[dict[str, Any]], action: str) -> set[str]:
    prefixes = set()
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action not in actions:
            continue
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            parts = resource["Fn::Join"][1]
            prefixes.add(parts[-1])
    return prefixes


def test_every_task_retries_transient_errors_with_backoff_and_has_a_timeout(
    template: Template,
) -> None:
    states = _machine(template)["definition"]["States"]
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}

    assert {"Prepare", "Train", "Evaluate", "Gate", "Register", "CreateRelease"} <= set(tasks)
    for name, state in tasks.items():
        retry = state["Retry"][0]
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"], name
        assert retry["BackoffRate"] == 2, name
        assert "TimeoutSeconds" in state, name
    assert tasks["Train"]["TimeoutSeconds"] == 900


def test_every_step_before_the_release_is_caught_and_ends_failed_after_a_notice(
    template: Template,
) -> None:
    states = _machine(template)["definition"]["States"]

    for name in ("Prepare", "Train", "Evaluate", "Gate", "Register", "CreateRelease"):
        assert states[name]["Catch"][0]["Next"] == "NotifyFailed", name
    assert states["NotifyFailed"]["Next"] == "RetrainingFailed"
    assert states["RetrainingFailed"]["Type"] == "Fail"
    # The registry is only written after the gate passed.
    choice = states["GatesPassed?"]
    assert choice["Choices"][0]["Next"] == "Register"
    assert choice["Default"] == "NotifyRejected"


def test_the_canary_chain_follows_the_release(template: Template) -> None:
    states = _machine(template)["definition"]["States"]

    assert states["CreateRelease"]["Next"] == "CanarySteps"
    assert states["CanarySteps"]["Catch"][0]["Next"] == "Rollback"
    assert states["Promote"]["Next"] == "MarkPromoted"


def test_machine_logs_all_events_and_traces(template: Template) -> None:
    props = _machine(template)["props"]

    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_new_data_under_the_models_prefix_triggers_retraining(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": Match.object_like({"object": {"key": [{"prefix": "datasets/churn/"}]}}),
            },
        },
    )


def test_schedule_is_off_by_default_and_on_with_context(template: Template, synth: Synth) -> None:
    assert not [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
    ]

    scheduled = synth(retrainSchedule="rate(7 days)")

    scheduled.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(7 days)"})


def test_drift_alarm_starts_retraining(template: Template) -> None:
    (drift,) = [
        alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "OutOfRangeValues" in json.dumps(alarm)
    ]
    assert drift["AlarmName"]["Fn::Join"][1][0] == "modelship-drift-"
    assert (drift["EvaluationPeriods"], drift["DatapointsToAlarm"], drift["Threshold"]) == (3, 3, 5)
    assert drift["Metrics"][0]["Expression"] == "100 * outside / IF(numeric > 0, numeric, 1)"
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "detail-type": ["CloudWatch Alarm State Change"],
                    "detail": Match.object_like({"state": {"value": ["ALARM"]}}),
                }
            )
        },
    )


def test_sagemaker_switch_runs_training_as_a_sync_job(synth: Synth) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelship-train:1"
    template = synth(trainingBackend="sagemaker", sagemakerImageUri=image)

    states = _machine(template)["definition"]["States"]

    train = states["Train"]
    assert train["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert train["Parameters"]["AlgorithmSpecification"]["TrainingImage"] == image
    assert train["Next"] == "CollectCandidate"
    assert states["CollectCandidate"]["Next"] == "Evaluate"
    assert any(
        f["Properties"]["Handler"] == PIPELINE + "collect_candidate"
        for f in template.find_resources("AWS::Lambda::Function").values()
    )


def test_sagemaker_switch_needs_an_image(synth: Synth) -> None:
    with pytest.raises(RetrainingSettingsError, match="sagemakerImageUri"):
        synth(trainingBackend="sagemaker")


def test_lambda_trainer_is_the_default(template: Template) -> None:
    train = _machine(template)["definition"]["States"]["Train"]

    # payload_response_only: the task's resource is the trainer function's ARN itself.
    assert train["Resource"] == "TOKEN"
    assert train["Next"] == "Evaluate"


def test_tasks_write_only_their_own_prefixes(template: Template) -> None:
    assert _s3_object_prefixes(_role_statements(template, PIPELINE + "train"), "s3:PutObject") == {
        "/candidates/churn/*"
    }
    assert _s3_object_prefixes(_role_statements(template, PIPELINE + "gate"), "s3:PutObject") == {
        "/retraining/churn/*"
    }
    assert _s3_object_prefixes(
        _role_statements(template, PIPELINE + "register"), "s3:PutObject"
    ) == {"/models/churn/*"}
    assert (
        _s3_object_prefixes(_role_statements(template, PIPELINE + "prepare"), "s3:PutObject")
        == set()
    )


def test_release_plan_parsing() -> None:
    assert parse_release_plan("10:5m,50:1h,100") == (
        {"weight": 0.1, "bake_seconds": 300},
        {"weight": 0.5, "bake_seconds": 3600},
    )
    with pytest.raises(RetrainingSettingsError):
        parse_release_plan("10:5m")


def test_training_image_must_be_an_ecr_image(synth: Synth) -> None:
    with pytest.raises(RetrainingSettingsError, match="is not an ECR image"):
        synth(trainingBackend="sagemaker", sagemakerImageUri="docker.io/library/python:3.12")


def _granted(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    def actions(statement: dict[str, Any]) -> list[str]:
        raw = statement["Action"]
        return raw if isinstance(raw, list) else [raw]

    return [s for s in statements if action in actions(s)]


def test_create_release_may_call_what_releases_create_calls(template: Template) -> None:
    statements = _role_statements(template, PIPELINE + "create_release")
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    function_arn = {"Fn::GetAtt": [predict, "Arn"]}

    # function_updated_v2 (the wait after re-pinning $LATEST) polls GetFunction.
    for action in (
        "lambda:GetFunction",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion",
        "lambda:GetAlias",
    ):
        (grant,) = _granted(statements, action)
        assert grant["Resource"] == function_arn, action
    resources = [g["Resource"] for g in _granted(statements, "lambda:GetFunctionConfiguration")]
    assert function_arn in resources
    assert {"Fn::Join": ["", [function_arn, ":*"]]} in resources
