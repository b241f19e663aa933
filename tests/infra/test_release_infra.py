"""Release machinery in the stack: the rollback wiring, least privilege over one alias, the
release state machine's shape, static guardrail alarms and their context settings."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra_cdk.function_source import stage_release_source
from infra_cdk.settings import SettingsError
from modelship import names
from modelship.local.alarms import evaluate_math
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


def test_abandoned_rollouts_of_both_machines_go_to_the_rollback_function(
    template: Template,
) -> None:
    # A retraining run canaries its challenger with its own copy of the release chain, so a
    # run stopped, timed out or failed mid-canary must reach the rollback function too.
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    machine = logical_id_starting(template, "AWS::StepFunctions::StateMachine", "ReleaseMachine")
    retraining = logical_id_starting(
        template, "AWS::StepFunctions::StateMachine", "RetrainingPipeline"
    )
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "status": ["FAILED", "ABORTED", "TIMED_OUT"],
                    "stateMachineArn": [{"Ref": machine}, {"Ref": retraining}],
                },
            },
            "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [rollback, "Arn"]}})],
        },
    )


def test_only_eventbridge_rules_may_invoke_the_rollback_function(template: Template) -> None:
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    # The retraining trigger and the drift monitor (on its schedule) are the only other
    # functions EventBridge may invoke.
    trigger = _function_id(template, "functions.retraining.trigger.lambda_handler")
    monitor = _function_id(template, names.MONITOR_HANDLER)
    alias = logical_id(template, "AWS::Lambda::Alias")
    rules = set(template.find_resources("AWS::Events::Rule"))
    for permission in template.find_resources("AWS::Lambda::Permission").values():
        props = permission["Properties"]
        if props["Principal"] == "events.amazonaws.com":
            assert props["FunctionName"] in (
                {"Fn::GetAtt": [rollback, "Arn"]},
                {"Fn::GetAtt": [trigger, "Arn"]},
                {"Fn::GetAtt": [monitor, "Arn"]},
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
    template = synth(
        guardrailErrorRatePercent="2.5", guardrailMinRequests=40, guardrailP99LatencyMs=250
    )
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
    assert steps["ItemProcessor"]["StartAt"] == "ApplyStep"
    assert inner["ApplyStep"]["Next"] == "Bake"
    assert inner["Bake"]["SecondsPath"] == "$.step.bake_seconds"
    assert inner["Bake"]["Next"] == "CheckGuardrails"
    assert inner["CheckGuardrails"]["Next"] == "Judge"
    assert inner["Judge"]["Next"] == "Extend?"
    for task in ("ApplyStep", "CheckGuardrails", "Judge"):
        retried = {e for r in inner[task]["Retry"] for e in r["ErrorEquals"]}
        assert "Lambda.TooManyRequestsException" in retried
        # A verdict's failure is not transient: retrying would only judge again.
        assert not retried & {"CanaryVerdictFailed", "CanaryVerdictInconclusive", "States.ALL"}
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


def _static_alarms(template: Template) -> dict[str, dict[str, Any]]:
    """Static guardrail alarms by the end of their name (live-errors, ...)."""
    alarms = {}
    for logical, resource in template.find_resources("AWS::CloudWatch::Alarm").items():
        props = resource["Properties"]
        if logical.startswith("Guardrails") and names.GUARDRAIL_ALARM_PREFIX in json.dumps(
            props["AlarmName"]
        ):
            alarms[props["AlarmName"]["Fn::Join"][1][-1].lstrip("-")] = props
    return alarms


def _queries(props: dict[str, Any]) -> tuple[str, dict[str, dict[str, Any]]]:
    (expression,) = [m["Expression"] for m in props["Metrics"] if "Expression" in m]
    stats = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    return expression, stats


def test_static_guardrail_alarms_watch_the_alias_and_the_error_rate(template: Template) -> None:
    alarms = _static_alarms(template)
    assert set(alarms) == {"live-errors", "live-throttles", "prediction-error-rate"}
    for props in alarms.values():
        assert props["AlarmName"]["Fn::Join"][1][0] == names.GUARDRAIL_ALARM_PREFIX
        assert props["TreatMissingData"] == "notBreaching"
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    for name in ("live-errors", "live-throttles"):
        _, stats = _queries(alarms[name])
        for stat in stats.values():
            assert stat["Metric"]["Namespace"] == "AWS/Lambda"
            dims = {d["Name"]: d["Value"] for d in stat["Metric"]["Dimensions"]}
            # Resource=<function>:<alias> scopes the metric to the alias, all its versions.
            assert dims["Resource"] == {"Fn::Join": ["", [{"Ref": predict}, ":live"]]}
    _, stats = _queries(alarms["prediction-error-rate"])
    assert {s["Metric"]["MetricName"] for s in stats.values()} == {
        names.METRIC_PREDICTION_ERRORS,
        names.METRIC_REQUESTS,
    }
    assert (
        alarms["prediction-error-rate"]["Threshold"] == names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT
    )


def test_rollback_alarms_are_rates_judged_only_with_enough_requests(synth: Synth) -> None:
    template = synth(guardrailMinRequests=40, guardrailThrottleRatePercent=7.5)
    alarms = _static_alarms(template)

    expected = {
        "live-errors": (
            {"Invocations", "Errors"},
            "IF(FILL(invocations, 0) >= 40, 100 * FILL(errors, 0) / FILL(invocations, 0), 0)",
            names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        ),
        "live-throttles": (
            {"Invocations", "Throttles"},
            "IF(FILL(invocations, 0) + FILL(throttles, 0) >= 40, "
            "100 * FILL(throttles, 0) / (FILL(invocations, 0) + FILL(throttles, 0)), 0)",
            7.5,
        ),
        "prediction-error-rate": (
            {names.METRIC_PREDICTION_ERRORS, names.METRIC_REQUESTS},
            "IF(requests >= 40, 100 * FILL(errors, 0) / requests, 0)",
            names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        ),
    }
    for name, (metrics, expression, threshold) in expected.items():
        actual, stats = _queries(alarms[name])
        assert {s["Metric"]["MetricName"] for s in stats.values()} == metrics, name
        assert actual == expression, name
        assert alarms[name]["Threshold"] == threshold, name
        assert alarms[name]["ComparisonOperator"] == "GreaterThanThreshold", name
        # ClientErrors (4xx) never feed a rollback alarm.
        assert names.METRIC_CLIENT_ERRORS not in json.dumps(alarms[name]), name


def test_one_failed_request_does_not_trip_a_rollback_alarm(template: Template) -> None:
    alarms = _static_alarms(template)
    minimum = names.DEFAULT_GUARDRAIL_MIN_REQUESTS
    one_failure = {
        "live-errors": {"invocations": minimum, "errors": 1},
        "live-throttles": {"invocations": minimum - 1, "throttles": 1},
        "prediction-error-rate": {"requests": minimum, "errors": 1},
    }
    alone = {
        "live-errors": {"invocations": 1, "errors": 1},
        "live-throttles": {"throttles": 1},
        "prediction-error-rate": {"requests": 1, "errors": 1},
    }
    for name, props in alarms.items():
        expression, _ = _queries(props)
        for values in (one_failure[name], alone[name]):
            value = evaluate_math(expression, values)
            assert value is not None, (name, values)
            assert value <= props["Threshold"], (name, values, value)
        many = {k: v * 10 for k, v in one_failure[name].items()}
        many = {**many, **{k: minimum * 5 for k in ("errors", "throttles") if k in many}}
        value = evaluate_math(expression, many)
        assert value is not None, (name, many)
        assert value > props["Threshold"], (name, many, value)


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


def _queue_for(template: Template, prefix: str) -> str:
    return logical_id_starting(template, "AWS::SQS::Queue", prefix)


@pytest.mark.parametrize(
    ("handler", "queue_prefix", "rules"),
    [
        (names.ROLLBACK_HANDLER, "ReleasesRollbackFailures", 2),
        ("functions.retraining.trigger.lambda_handler", "RetrainingPipelineTriggerFailures", 2),
    ],
)
def test_asynchronous_failures_land_in_a_dead_letter_queue(
    template: Template, handler: str, queue_prefix: str, rules: int
) -> None:
    function = _function_id(template, handler)
    queue = _queue_for(template, queue_prefix)
    queue_arn = {"Fn::GetAtt": [queue, "Arn"]}

    # Encrypted, kept 14 days, TLS only.
    props = _resources(template)[queue]["Properties"]
    assert props["SqsManagedSseEnabled"] is True
    assert props["MessageRetentionPeriod"] == 14 * 86_400
    (policy,) = [
        p["Properties"]
        for p in template.find_resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    # EventBridge may write only for this function's rules (aws:SourceArn), which name the
    # queue as their targets' dead-letter queue.
    targeting = [
        (logical, rule["Properties"])
        for logical, rule in template.find_resources("AWS::Events::Rule").items()
        if rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    assert len(targeting) == rules
    allowed = [
        s["Condition"]["ArnEquals"]["aws:SourceArn"]
        for s in statements
        if s["Effect"] == "Allow" and s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    for logical, rule in targeting:
        (target,) = rule["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": queue_arn}
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
        assert {"Fn::GetAtt": [logical, "Arn"]} in allowed
    # Lambda sends invocations that failed after its retries there, with the function's role.
    (config,) = [
        c["Properties"]
        for c in template.find_resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": function}
    ]
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": queue_arn}}
    assert config["MaximumRetryAttempts"] == 2
    assert config["MaximumEventAgeInSeconds"] == 3600
    (send,) = _granting(_statements(template, function), "sqs:SendMessage")
    assert _actions(send) == {"sqs:SendMessage"}
    assert send["Resource"] == queue_arn


def test_failed_rollbacks_and_waiting_dead_letters_alarm(template: Template) -> None:
    rollback = _function_id(template, names.ROLLBACK_HANDLER)
    alarms = [a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()]

    (errors,) = [
        a
        for a in alarms
        if a.get("MetricName") == "Errors"
        and a["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": rollback}}]
    ]
    assert (errors["Threshold"], errors["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    depth = [a for a in alarms if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    watched = {a["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for a in depth}
    assert watched == {
        _queue_for(template, "ReleasesRollbackFailures"),
        _queue_for(template, "RetrainingPipelineTriggerFailures"),
        _queue_for(template, "DriftMonitorFailures"),
    }
    # Outside the guardrail prefix: the rollback function is never sent its own failures.
    for alarm in [errors, *depth]:
        name = json.dumps(alarm["AlarmName"])
        assert names.GUARDRAIL_ALARM_PREFIX not in name
        assert names.OPS_ALARM_PREFIX in name
