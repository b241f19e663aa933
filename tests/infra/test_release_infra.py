"""Release machinery in the stack: the rollback wiring, least privilege over one alias, the
release state machine's shape, static guardrail alarms and their context settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra_cdk.release_machine import stage_release_source
from infra_cdk.settings import SettingsError
from modelship import names
from tests.infra.template_queries import Synth, logical_id, logical_id_starting


def _resources(template: Template) -> dict[str, Any]:
    resources: dict[str, Any] = template.to_json()["Resources"]
    return resources


def _function_id(template: Template, handler: str) -> str:
    matches = [
        logical
        for logical, resource in template.find_resources("AWS::Lambda::Function").items()
        if resource["Properties"]["Handler"] == handler
    ]
    assert len(matches) == 1, matches
    return matches[0]


def _statements(template: Template, function_id: str) -> list[dict[str, Any]]:
    role_ref = _resources(template)[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role_ref} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _granting(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in _actions(s)]


def _prefix_pattern(template: Template) -> Any:
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    return {"Fn::Join": ["", [names.GUARDRAIL_ALARM_PREFIX, {"Ref": predict}, "-"]]}


def test_alarm_rule_sends_this_functions_guardrail_alarms_to_the_rollback_function(
    template: Template,
) -> None:
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.cloudwatch"],
                "detail-type": ["CloudWatch Alarm State Change"],
                "detail": {
                    "alarmName": [{"prefix": _prefix_pattern(template)}],
                    "state": {"value": ["ALARM"]},
                },
            },
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [rollback, "Arn"]},
                        "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 4}),
                    }
                )
            ],
        },
    )


def test_abandoned_rollouts_of_the_release_machine_go_to_the_rollback_function(
    template: Template,
) -> None:
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    machine = logical_id_starting(template, "AWS::StepFunctions::StateMachine", "ReleaseMachine")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "status": ["FAILED", "ABORTED", "TIMED_OUT"],
                    "stateMachineArn": [{"Ref": machine}],
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [rollback, "Arn"]}})],
        },
    )


def test_only_eventbridge_rules_may_invoke_the_rollback_function(template: Template) -> None:
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    # The retraining trigger is the only other function EventBridge may invoke.
    trigger = _function_id(template, "functions.pipeline.trigger.lambda_handler")
    alias = logical_id(template, "AWS::Lambda::Alias")
    rules = set(template.find_resources("AWS::Events::Rule"))
    for permission in template.find_resources("AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props["Principal"] == "events.amazonaws.com":
            assert props["FunctionName"] in (
                {"Fn::GetAtt": [rollback, "Arn"]},
                {"Fn::GetAtt": [trigger, "Arn"]},
            )
            assert props["SourceArn"]["Fn::GetAtt"][0] in rules
        else:
            assert props["Principal"] == "apigateway.amazonaws.com"
            assert props["FunctionName"] == {"Ref": alias}


@pytest.mark.parametrize("handler", [names.ROLLBACK_HANDLER, names.RELEASE_HANDLER])
def test_release_roles_may_route_only_this_alias(template: Template, handler: str) -> None:
    statements = _statements(template, _function_id(template, handler))
    alias = logical_id(template, "AWS::Lambda::Alias")

    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")

    routing = _granting(statements, "lambda:UpdateAlias")
    assert len(routing) == 1
    assert _actions(routing[0]) == {"lambda:GetAlias", "lambda:UpdateAlias"}
    # Lambda authorizes alias actions on the unqualified function ARN, not the alias ARN.
    assert routing[0]["Resource"] == {"Fn::GetAtt": [predict, "Arn"]}
    assert routing[0]["Resource"] != {"Ref": alias}
    for forbidden in (
        "lambda:PublishVersion",
        "lambda:UpdateFunctionConfiguration",
        "lambda:UpdateFunctionCode",
        "lambda:*",
        "s3:DeleteObject",
        "*",
    ):
        assert not _granting(statements, forbidden), forbidden


# Service Authorization Reference for Lambda: these act on resource type `function`, the
# unqualified ARN arn:${Partition}:lambda:${Region}:${Account}:function:${FunctionName}.
UNQUALIFIED_ONLY = {
    "lambda:GetAlias",
    "lambda:UpdateAlias",
    "lambda:PublishVersion",
    "lambda:GetFunction",
    "lambda:UpdateFunctionConfiguration",
}


def _resource_list(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_every_lambda_statement_names_the_arn_lambda_authorizes(template: Template) -> None:
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    unqualified = {"Fn::GetAtt": [predict, "Arn"]}
    versions = {"Fn::Join": ["", [unqualified, ":*"]]}
    checked = 0
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = _actions(statement)
            if actions & UNQUALIFIED_ONLY:
                checked += 1
                assert _resource_list(statement) == [unqualified], statement
            if "lambda:GetFunctionConfiguration" in actions:
                checked += 1
                for resource in _resource_list(statement):
                    assert resource in (unqualified, versions), statement
    assert checked >= 5


@pytest.mark.parametrize("handler", [names.ROLLBACK_HANDLER, names.RELEASE_HANDLER])
def test_release_roles_write_only_this_functions_history_and_alarms(
    template: Template, handler: str
) -> None:
    statements = _statements(template, _function_id(template, handler))
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    bucket = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")

    (writes,) = _granting(statements, "s3:PutObject")
    assert writes["Resource"] == {
        "Fn::Join": [
            "",
            [{"Fn::GetAtt": [bucket, "Arn"]}, f"/{names.RELEASES_PREFIX}/", {"Ref": predict}, "/*"],
        ]
    }
    (deletes,) = _granting(statements, "cloudwatch:DeleteAlarms")
    resource = json.dumps(deletes["Resource"])
    assert f':alarm:{names.GUARDRAIL_ALARM_PREFIX}"' in resource
    assert json.dumps({"Ref": predict}) in resource
    assert resource.endswith('"-*"]]}')


def test_only_the_release_task_creates_alarms(template: Template) -> None:
    release = _statements(template, _function_id(template, names.RELEASE_HANDLER))
    rollback = _statements(template, _function_id(template, names.ROLLBACK_HANDLER))

    assert _granting(release, "cloudwatch:PutMetricAlarm")
    assert not _granting(rollback, "cloudwatch:PutMetricAlarm")
    assert not _granting(rollback, "cloudwatch:DescribeAlarms")


def test_release_functions_know_their_function_alias_bucket_and_thresholds(synth: Synth) -> None:
    template = synth(guardrailErrorRatePercent="2.5", guardrailP99LatencyMs=250)
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    bucket = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")
    for handler in (names.RELEASE_HANDLER, names.ROLLBACK_HANDLER):
        env = _resources(template)[_function_id(template, handler)]["Properties"]["Environment"]
        variables = env["Variables"]
        assert variables[names.ENV_PREDICT_FUNCTION] == {"Ref": predict}
        assert variables[names.ENV_RELEASE_BUCKET] == {"Ref": bucket}
        assert variables[names.ENV_ALIAS_NAME] == "live"
        assert variables[names.ENV_GUARDRAIL_ERROR_RATE] == "2.5"
        assert variables[names.ENV_GUARDRAIL_P99_LATENCY_MS] == "250"


@pytest.mark.parametrize(
    "context",
    [
        {"guardrailErrorRatePercent": 0},
        {"guardrailErrorRatePercent": "lots"},
        {"guardrailPeriodSeconds": 5},
        {"releaseTimeoutHours": 0},
    ],
)
def test_bad_release_settings_fail_the_synth_naming_the_key(
    synth: Synth, context: dict[str, Any]
) -> None:
    (key,) = context
    with pytest.raises(SettingsError, match=key):
        synth(**context)


def test_release_state_machine_shape(template: Template) -> None:
    machine_id = logical_id_starting(template, "AWS::StepFunctions::StateMachine", "ReleaseMachine")
    machine = _resources(template)[machine_id]["Properties"]
    parts = machine["DefinitionString"]["Fn::Join"][1]
    definition = json.loads(
        "".join(p if isinstance(p, str) else '"ARN"' for p in parts).replace('""ARN""', '"ARN"')
    )
    states = definition["States"]

    steps = states[definition["StartAt"]]
    assert steps["Type"] == "Map"
    assert steps["ItemsPath"] == "$.steps"
    assert steps["MaxConcurrency"] == 1
    assert steps["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Rollback"}
    ]
    inner = steps["ItemProcessor"]["States"]
    assert inner["Bake"]["SecondsPath"] == "$.step.bake_seconds"
    for task in ("ApplyStep", "CheckGuardrails"):
        retried = {e for r in inner[task]["Retry"] for e in r["ErrorEquals"]}
        assert "Lambda.TooManyRequestsException" in retried
    assert states["Promote"]["Catch"][0]["Next"] == "Rollback"
    assert states["Rollback"]["Next"] == "RolledBack"
    assert states["RolledBack"] == {
        "Type": "Fail",
        "Error": "RolloutFailed",
        "CausePath": "$.error.Cause",
    }
    assert states["Rollback"]["Catch"][0]["Next"] == "RollbackFailed"
    assert "TimeoutSeconds" in definition
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["LoggingConfiguration"]["Level"] == "ALL"


def test_static_guardrail_alarms_watch_the_alias_and_the_error_rate(template: Template) -> None:
    alarms = {
        logical: resource["Properties"]
        for logical, resource in template.find_resources("AWS::CloudWatch::Alarm").items()
        if logical.startswith("Guardrails")
    }
    assert len(alarms) == 3
    for props in alarms.values():
        assert props["AlarmName"]["Fn::Join"][1][0] == names.GUARDRAIL_ALARM_PREFIX
        assert props["TreatMissingData"] == "notBreaching"
    by_metric = {p.get("MetricName", "math"): p for p in alarms.values()}
    assert set(by_metric) == {"Errors", "Throttles", "math"}
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    for metric in ("Errors", "Throttles"):
        assert by_metric[metric]["Namespace"] == "AWS/Lambda"
        dims = {d["Name"]: d["Value"] for d in by_metric[metric]["Dimensions"]}
        # Resource=<function>:<alias> scopes the metric to the alias, all its versions.
        assert dims["Resource"] == {"Fn::Join": ["", [{"Ref": predict}, ":live"]]}
    expression = next(m for m in by_metric["math"]["Metrics"] if "Expression" in m)
    assert expression["Expression"] == "100 * errors / requests"
    assert by_metric["math"]["Threshold"] == names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT


def test_release_state_machine_arn_is_an_output(template: Template) -> None:
    assert "ReleaseStateMachineArn" in template.to_json()["Outputs"]


def test_release_code_asset_holds_only_its_handlers_and_the_library() -> None:
    staging = stage_release_source()
    assert sorted(p.name for p in staging.iterdir()) == ["functions", "modelship"]
    assert sorted(p.name for p in (staging / "functions").iterdir()) == [
        "__init__.py",
        "release",
        "rollback",
    ]
