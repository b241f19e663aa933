"""The drift monitor as synthesized: its function and least-privilege role, the schedule that
runs it, and the DriftScore alarm that starts retraining."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from modelship import names
from tests.infra.template_queries import Synth


def _monitor(template: Template) -> tuple[str, dict[str, Any]]:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": names.MONITOR_HANDLER}}
    )
    assert len(functions) == 1, list(functions)
    return next(iter(functions.items()))


def _statements(template: Template, role_logical: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_logical} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found[statement.get("Sid") or ",".join(sorted(_list(statement["Action"])))] = (
                    statement
                )
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _drift_alarms(template: Template) -> dict[str, Any]:
    return template.find_resources(
        "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": names.METRIC_DRIFT_SCORE}}
    )


def test_the_monitor_function_watches_its_model_with_the_configured_thresholds(
    synth: Synth,
) -> None:
    template = synth(driftPsiThreshold=0.3, driftMinRows=500, driftWindowHours=12)

    _, monitor = _monitor(template)

    props = monitor["Properties"]
    variables = props["Environment"]["Variables"]
    assert variables[names.ENV_MODEL_NAME] == "churn"
    assert variables[names.ENV_ALIAS_NAME] == "live"
    assert variables[names.ENV_POWERTOOLS_SERVICE_NAME] == names.MONITOR_SERVICE_NAME
    assert variables[names.ENV_POWERTOOLS_METRICS_NAMESPACE] == names.METRICS_NAMESPACE
    assert (
        variables[names.ENV_DRIFT_WINDOW_HOURS],
        variables[names.ENV_DRIFT_PSI_THRESHOLD],
        variables[names.ENV_DRIFT_P_VALUE],
        variables[names.ENV_DRIFT_MIN_ROWS],
    ) == ("12", "0.3", "0.01", "500")
    assert variables[names.ENV_PREDICT_FUNCTION]["Ref"].startswith("PredictFunction")
    assert (props["MemorySize"], props["Timeout"]) == (1024, 300)


def test_the_monitor_role_reads_only_its_models_prefixes_and_the_live_alias(
    template: Template,
) -> None:
    _, monitor = _monitor(template)
    role = monitor["Properties"]["Role"]["Fn::GetAtt"][0]

    statements = _statements(template, role)

    def objects(statement: dict[str, Any]) -> list[str]:
        return [r["Fn::Join"][1][1] for r in _list(statement["Resource"])]

    assert statements["ReadCapturesModelsReports"]["Action"] == "s3:GetObject"
    assert objects(statements["ReadCapturesModelsReports"]) == [
        "/capture/churn/*",
        "/models/churn/*",
        "/monitoring/churn/*",
    ]
    listing = statements["ListCapturesAndReports"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["capture/churn/*", "monitoring/churn/*"]}
    }
    assert statements["WriteReports"]["Action"] == "s3:PutObject"
    assert objects(statements["WriteReports"]) == ["/monitoring/churn/*"]
    alias = statements["ReadLiveAlias"]
    assert alias["Action"] == "lambda:GetAlias"
    assert alias["Resource"]["Fn::GetAtt"][0].startswith("PredictFunction")
    releases = statements["ReadReleases"]
    assert releases["Action"] == "lambda:GetFunctionConfiguration"
    assert releases["Resource"]["Fn::Join"][1][1] == ":*"
    granted = {a for s in statements.values() for a in _list(s["Action"])}
    assert granted == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "lambda:GetAlias",
        "lambda:GetFunctionConfiguration",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:SendMessage",
    }


def test_the_schedule_runs_the_monitor_hourly_by_default(template: Template) -> None:
    monitor, _ = _monitor(template)

    rules = [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression")
    ]

    assert len(rules) == 1
    assert rules[0]["ScheduleExpression"] == names.DEFAULT_DRIFT_SCHEDULE
    assert rules[0]["Targets"][0]["Arn"] == {"Fn::GetAtt": [monitor, "Arn"]}
    assert "DeadLetterConfig" in rules[0]["Targets"][0]


def test_the_drift_alarm_reads_the_score_over_one_schedule_interval(synth: Synth) -> None:
    template = synth(driftSchedule="rate(15 minutes)", driftPsiThreshold=0.25)

    ((logical, alarm),) = _drift_alarms(template).items()

    props = alarm["Properties"]
    assert props["AlarmName"]["Fn::Join"][1][0] == "modelship-drift-score-"
    assert props["Namespace"] == names.METRICS_NAMESPACE
    assert sorted((d["Name"], d["Value"]) for d in props["Dimensions"]) == [
        ("Model", "churn"),
        ("service", "monitor"),
    ]
    assert (props["Statistic"], props["Period"], props["EvaluationPeriods"]) == ("Maximum", 900, 1)
    assert (props["ComparisonOperator"], props["Threshold"]) == (
        "GreaterThanOrEqualToThreshold",
        0.25,
    )
    assert props["TreatMissingData"] == "notBreaching"
    # The retraining pipeline's drift rule sends this alarm's ALARM to the trigger.
    (rule,) = [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if "drift alarm" in r["Properties"].get("Description", "")
    ]
    assert rule["EventPattern"]["detail"] == {
        "alarmName": [{"Ref": logical}],
        "state": {"value": ["ALARM"]},
    }
    assert rule["Targets"][0]["Arn"]["Fn::GetAtt"][0].startswith("RetrainingPipelineTrigger")
    assert not [
        a
        for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        if "OutOfRangeValues" in str(a)
    ]


def test_without_retraining_the_alarm_stays_for_operators(synth: Synth) -> None:
    template = synth(retraining="off")

    assert len(_drift_alarms(template)) == 1
    assert not [
        r
        for r in template.find_resources("AWS::Events::Rule").values()
        if "drift alarm" in r["Properties"].get("Description", "")
    ]


def test_without_data_capture_there_is_no_monitor(synth: Synth) -> None:
    template = synth(captureSampleRate=0)

    assert not template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": names.MONITOR_HANDLER}}
    )
    assert not _drift_alarms(template)
