"""Each deploy-time rule on a small template: one resource AWS accepts, one it refuses."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.session
import pytest

from modelship.local import template_checks as tv
from modelship.local.deployer import Deployer
from modelship.local.deployment import Clients
from modelship.local.template_checks.cloudwatch import ALARM_DESCRIPTION_MAX, ALARM_NAME_MAX
from modelship.local.template_checks.eventbridge import RULE_NAME
from modelship.local.template_checks.firehose import (
    BUFFER_INTERVAL_SECONDS,
    BUFFER_SIZE_MIB,
    DELIVERY_STREAM_NAME,
    PREFIX_CHARS,
)
from modelship.local.template_checks.iam import ROLE_NAME, ROLE_PATH
from modelship.local.template_checks.lambda_functions import (
    ALIAS_NAME,
    EPHEMERAL_MB,
    FUNCTION_DESCRIPTION_MAX,
    MEMORY_MB,
    UNZIPPED_CODE_MAX_BYTES,
)
from modelship.local.template_checks.logs import LOG_GROUP_NAME
from modelship.local.template_checks.stepfunctions import STATE_MACHINE_NAME, TRAINING_JOB_NAME

FUNCTION: dict[str, Any] = {
    "Type": "AWS::Lambda::Function",
    "Properties": {
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "MemorySize": 1024,
        "Timeout": 15,
        "EphemeralStorage": {"Size": 512},
        "Code": {"S3Bucket": "assets", "S3Key": "code.zip"},
        "Environment": {"Variables": {"MODEL_NAME": "churn", "BUCKET": {"Ref": "Bucket"}}},
        "Layers": [{"Ref": "Layer"}],
    },
}
LAYER = {
    "Type": "AWS::Lambda::LayerVersion",
    "Properties": {"Content": {"S3Bucket": "assets", "S3Key": "layer.zip"}},
}
BUCKET = {"Type": "AWS::S3::Bucket", "Properties": {}}
ALARM: dict[str, Any] = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "AlarmName": {"Fn::Join": ["", ["guardrail-", {"Ref": "Fn"}, "-errors"]]},
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "MetricName": "Errors",
        "Namespace": "AWS/Lambda",
        "Period": 60,
        "Statistic": "Sum",
        "Threshold": 0,
    },
}
MATH_ALARM: dict[str, Any] = {
    "Type": "AWS::CloudWatch::Alarm",
    "Properties": {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": 1,
        "Threshold": 5,
        "Metrics": [
            {"Id": "expr_1", "Expression": "100 * errors / requests", "ReturnData": True},
            *(
                {
                    "Id": name,
                    "MetricStat": {
                        "Metric": {"MetricName": name, "Namespace": "modelship"},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                    "ReturnData": False,
                }
                for name in ("errors", "requests")
            ),
        ],
    },
}
STAGE_FORMAT_OK = '{"requestId":"$context.requestId","route":"$context.routeKey"}'
STAGE_FORMAT_BAD = '{"requestId":"$context.requestId","path":"$context.resourcePath"}'
API = {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Name": "api", "ProtocolType": "HTTP"}}
STAGE: dict[str, Any] = {
    "Type": "AWS::ApiGatewayV2::Stage",
    "Properties": {
        "ApiId": {"Ref": "Api"},
        "StageName": "$default",
        "AccessLogSettings": {"DestinationArn": "arn", "Format": STAGE_FORMAT_OK},
    },
}
ROUTE: dict[str, Any] = {
    "Type": "AWS::ApiGatewayV2::Route",
    "Properties": {"ApiId": {"Ref": "Api"}, "RouteKey": "POST /predict", "Target": "x"},
}
PARAMETER: dict[str, Any] = {
    "Type": "AWS::SSM::Parameter",
    "Properties": {"Name": "/modelship/s/models/a", "Type": "String", "Value": "{}"},
}
STREAM: dict[str, Any] = {
    "Type": "AWS::KinesisFirehose::DeliveryStream",
    "Properties": {
        "DeliveryStreamName": "modelship-dev-capture",
        "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": {
            "BucketARN": "arn:aws:s3:::models",
            "RoleARN": "arn:aws:iam::123456789012:role/delivery",
            "Prefix": "capture/!{partitionKeyFromQuery:model}/!{timestamp:yyyy/MM/dd/HH}/",
            "ErrorOutputPrefix": "capture-errors/!{firehose:error-output-type}/",
            "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "MetadataExtraction",
                        "Parameters": [
                            {
                                "ParameterName": "MetadataExtractionQuery",
                                "ParameterValue": "{model: .model}",
                            },
                            {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                        ],
                    }
                ],
            },
        },
    },
}
_DESTINATION = "ExtendedS3DestinationConfiguration"
MACHINE: dict[str, Any] = {
    "Type": "AWS::StepFunctions::StateMachine",
    "Properties": {
        "StateMachineName": "modelship-dev-retrain-churn",
        "DefinitionString": json.dumps(
            {
                "StartAt": "Train",
                "States": {
                    "Train": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                        "Parameters": {"TrainingJobName": "churn-train-1"},
                        "End": True,
                    }
                },
            }
        ),
        "RoleArn": "arn:aws:iam::123456789012:role/sfn",
    },
}
RULE: dict[str, Any] = {
    "Type": "AWS::Events::Rule",
    "Properties": {
        "Name": "guardrail-alarms",
        "Targets": [
            {
                "Id": "Target0",
                "Arn": "arn",
                "RetryPolicy": {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 3600},
            }
        ],
    },
}


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    base = {"Fn": FUNCTION, "Layer": LAYER, "Bucket": BUCKET}
    return {"Resources": copy.deepcopy({**base, **resources})}


def _with(resource: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `resource` with the property at dotted `path` set (None deletes it)."""
    changed = copy.deepcopy(resource)
    *parents, last = path.split(".")
    node = changed["Properties"]
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is None:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return changed


def _sagemaker_machine(job_name: str) -> dict[str, Any]:
    definition = json.loads(MACHINE["Properties"]["DefinitionString"])
    definition["States"]["Train"]["Parameters"]["TrainingJobName"] = job_name
    return _with(MACHINE, "DefinitionString", json.dumps(definition))


def _rules(template: dict[str, Any], cdk_out: Path | None = None) -> set[str]:
    return tv.validate(template, cdk_out).rules


# Each case: the rule, a template AWS accepts, one it refuses.
CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "lambda-function-name",
        _template(Fn=_with(FUNCTION, "FunctionName", "modelship-predict")),
        _template(Fn=_with(FUNCTION, "FunctionName", "f" * 65)),
    ),
    (
        "lambda-memory",
        _template(Fn=_with(FUNCTION, "MemorySize", 10_240)),
        _template(Fn=_with(FUNCTION, "MemorySize", 10_241)),
    ),
    (
        "lambda-timeout",
        _template(Fn=_with(FUNCTION, "Timeout", 900)),
        _template(Fn=_with(FUNCTION, "Timeout", 901)),
    ),
    (
        "lambda-ephemeral-storage",
        _template(Fn=_with(FUNCTION, "EphemeralStorage.Size", 10_240)),
        _template(Fn=_with(FUNCTION, "EphemeralStorage.Size", 256)),
    ),
    (
        "lambda-snapstart",
        _template(Fn=_with(FUNCTION, "SnapStart", {"ApplyOn": "PublishedVersions"})),
        _template(
            Fn=_with(
                _with(FUNCTION, "SnapStart", {"ApplyOn": "PublishedVersions"}),
                "EphemeralStorage.Size",
                1024,
            )
        ),
    ),
    (
        "lambda-snapstart",
        _template(Fn=_with(FUNCTION, "SnapStart", {"ApplyOn": "None"})),
        _template(
            Fn=_with(
                _with(FUNCTION, "SnapStart", {"ApplyOn": "PublishedVersions"}),
                "Runtime",
                "python3.11",
            )
        ),
    ),
    (
        "lambda-environment-size",
        _template(Fn=_with(FUNCTION, "Environment.Variables.BIG", "x" * 3500)),
        _template(Fn=_with(FUNCTION, "Environment.Variables.BIG", "x" * 4096)),
    ),
    (
        "lambda-environment-keys",
        _template(Fn=_with(FUNCTION, "Environment.Variables.LOG_LEVEL", "INFO")),
        _template(Fn=_with(FUNCTION, "Environment.Variables.AWS_REGION", "eu-west-1")),
    ),
    (
        "lambda-layers",
        _template(Fn=_with(FUNCTION, "Layers", [{"Ref": "Layer"}] * 5)),
        _template(Fn=_with(FUNCTION, "Layers", [{"Ref": "Layer"}] * 6)),
    ),
    (
        "lambda-reserved-concurrency",
        _template(Fn=_with(FUNCTION, "ReservedConcurrentExecutions", 0)),
        _template(Fn=_with(FUNCTION, "ReservedConcurrentExecutions", -1)),
    ),
    (
        "lambda-description",
        _template(Fn=_with(FUNCTION, "Description", "d" * 256)),
        _template(Fn=_with(FUNCTION, "Description", "d" * 257)),
    ),
    (
        "lambda-alias",
        _template(
            Alias={
                "Type": "AWS::Lambda::Alias",
                "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "live"},
            }
        ),
        _template(
            Alias={
                "Type": "AWS::Lambda::Alias",
                "Properties": {"FunctionName": {"Ref": "Fn"}, "Name": "12"},
            }
        ),
    ),
    (
        "lambda-async-config",
        _template(
            Async={
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21_600},
            }
        ),
        _template(
            Async={
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {"MaximumRetryAttempts": 3},
            }
        ),
    ),
    (
        "iam-role-name",
        _template(Role={"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r" * 64}}),
        _template(Role={"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r" * 65}}),
    ),
    (
        "iam-role-path",
        _template(Role={"Type": "AWS::IAM::Role", "Properties": {"Path": "/modelship/"}}),
        _template(Role={"Type": "AWS::IAM::Role", "Properties": {"Path": "modelship"}}),
    ),
    (
        "sfn-state-machine-name",
        _template(Machine=_with(MACHINE, "StateMachineName", "m" * 80)),
        _template(Machine=_with(MACHINE, "StateMachineName", "m" * 81)),
    ),
    (
        "sfn-state-machine-name",
        _template(Machine=_with(MACHINE, "StateMachineName", "retrain.churn")),
        _template(Machine=_with(MACHINE, "StateMachineName", "retrain churn")),
    ),
    (
        "sfn-definition-size",
        _template(Machine=MACHINE),
        _template(
            Machine=_with(MACHINE, "DefinitionString", json.dumps({"Comment": "c" * 1_048_576}))
        ),
    ),
    (
        "sagemaker-training-job-name",
        _template(Machine=_sagemaker_machine("j" * 63)),
        _template(Machine=_sagemaker_machine("j" * 64)),
    ),
    (
        "cloudwatch-alarm-name",
        _template(Alarm=_with(ALARM, "AlarmName", "a" * 255)),
        _template(Alarm=_with(ALARM, "AlarmName", "a" * 256)),
    ),
    (
        "cloudwatch-alarm-period",
        _template(Alarm=_with(ALARM, "Period", 30)),
        _template(Alarm=_with(ALARM, "Period", 45)),
    ),
    (
        "cloudwatch-alarm-period",
        _template(Alarm=MATH_ALARM),
        _template(Alarm=_with(MATH_ALARM, "Metrics.1.MetricStat.Period", 90)),
    ),
    (
        "cloudwatch-alarm-window",
        _template(Alarm=_with(ALARM, "EvaluationPeriods", 1440)),
        _template(Alarm=_with(ALARM, "EvaluationPeriods", 1441)),
    ),
    (
        "cloudwatch-alarm-datapoints",
        _template(Alarm=_with(ALARM, "DatapointsToAlarm", 3)),
        _template(Alarm=_with(ALARM, "DatapointsToAlarm", 4)),
    ),
    (
        "cloudwatch-metric-math",
        _template(Alarm=MATH_ALARM),
        _template(Alarm=_with(MATH_ALARM, "Metrics.1.ReturnData", None)),  # defaults to true
    ),
    (
        "cloudwatch-metric-math",
        _template(Alarm=MATH_ALARM),
        _template(Alarm=_with(MATH_ALARM, "Metrics.1.Id", "Errors")),
    ),
    (
        "cloudwatch-metric-math",
        _template(Alarm=MATH_ALARM),
        _template(
            Alarm=_with(
                MATH_ALARM,
                "Metrics",
                [
                    MATH_ALARM["Properties"]["Metrics"][0],
                    *(
                        _with(
                            {"Properties": MATH_ALARM["Properties"]["Metrics"][1]}, "Id", f"m{i}"
                        )["Properties"]
                        for i in range(11)
                    ),
                ],
            )
        ),
    ),
    (
        "logs-log-group-name",
        _template(
            Logs={"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/x/y-z"}}
        ),
        _template(Logs={"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/aws/x y"}}),
    ),
    (
        "logs-retention",
        _template(Logs={"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}}),
        _template(Logs={"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 31}}),
    ),
    (
        "events-rule-name",
        _template(Rule=RULE),
        _template(Rule=_with(RULE, "Name", "r" * 65)),
    ),
    (
        "events-targets",
        _template(Rule=RULE),
        _template(Rule=_with(RULE, "Targets.0.RetryPolicy.MaximumEventAgeInSeconds", 30)),
    ),
    (
        "sqs-queue-name",
        _template(Queue={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dlq.fifo"}}),
        _template(Queue={"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q" * 81}}),
    ),
    (
        "sns-topic-name",
        _template(Topic={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "outcomes"}}),
        _template(Topic={"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "out comes"}}),
    ),
    (
        "http-api-access-log-variables",
        _template(Api=API, Stage=STAGE),
        _template(Api=API, Stage=_with(STAGE, "AccessLogSettings.Format", STAGE_FORMAT_BAD)),
    ),
    (
        "http-api-access-log-size",
        _template(Api=API, Stage=STAGE),
        _template(
            Api=API,
            Stage=_with(
                STAGE, "AccessLogSettings.Format", '{"id":"$context.requestId"}' + " " * 3100
            ),
        ),
    ),
    (
        "http-api-route-key-unique",
        _template(Api=API, Route=ROUTE, Other=_with(ROUTE, "RouteKey", "GET /health")),
        _template(Api=API, Route=ROUTE, Other=copy.deepcopy(ROUTE)),
    ),
    (
        "ssm-parameter-name",
        _template(Param=PARAMETER),
        _template(Param=_with(PARAMETER, "Name", "/aws/modelship")),
    ),
    (
        "ssm-parameter-type",
        _template(Param=PARAMETER),
        _template(Param=_with(PARAMETER, "Type", "SecureString")),
    ),
    (
        "ssm-parameter-value",
        _template(Param=PARAMETER),
        _template(Param=_with(PARAMETER, "Value", "v" * 4097)),
    ),
    (
        "firehose-stream-name",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, "DeliveryStreamName", "capture stream")),
    ),
    (
        "firehose-role",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.RoleARN", None)),
    ),
    (
        "firehose-prefix",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.ErrorOutputPrefix", "e/" * 513)),
    ),
    (
        "firehose-buffering",
        _template(Stream=_with(STREAM, f"{_DESTINATION}.BufferingHints.IntervalInSeconds", 900)),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.BufferingHints.IntervalInSeconds", 901)),
    ),
    (
        "firehose-dynamic-partitioning",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.BufferingHints.SizeInMBs", 63)),
    ),
    (
        "firehose-dynamic-partitioning",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.ErrorOutputPrefix", None)),
    ),
    (
        "firehose-dynamic-partitioning",
        _template(Stream=STREAM),
        _template(Stream=_with(STREAM, f"{_DESTINATION}.ProcessingConfiguration", None)),
    ),
    (
        "firehose-dynamic-partitioning",
        _template(Stream=STREAM),
        _template(
            Stream=_with(STREAM, f"{_DESTINATION}.DynamicPartitioningConfiguration.Enabled", False)
        ),
    ),
    (
        "ssm-parameter-name-unique",
        _template(Param=PARAMETER, Other=_with(PARAMETER, "Name", "/modelship/s/models/b")),
        _template(Param=PARAMETER, Other=copy.deepcopy(PARAMETER)),
    ),
]


@pytest.mark.parametrize(
    ("rule", "accepted", "refused"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_rule_accepts_what_aws_accepts_and_refuses_what_it_refuses(
    rule: str, accepted: dict[str, Any], refused: dict[str, Any]
) -> None:
    assert rule not in _rules(accepted)
    assert rule in _rules(refused)


def test_a_finding_names_the_logical_id_the_property_the_value_and_the_limit() -> None:
    (finding,) = tv.validate(_template(Fn=_with(FUNCTION, "MemorySize", 20_000))).refusals

    assert str(finding) == "Fn: MemorySize = 20000: memory (MB) must be 128-10240"


def test_every_finding_is_reported_at_once() -> None:
    template = _template(
        Fn=_with(_with(FUNCTION, "MemorySize", 64), "Timeout", 1000),
        Alarm=_with(ALARM, "Period", 45),
    )

    with pytest.raises(tv.TemplateRefused) as refused:
        tv.refuse_invalid(template)

    assert {f.rule for f in refused.value.refusals} == {
        "lambda-memory",
        "lambda-timeout",
        "cloudwatch-alarm-period",
    }
    assert "3 finding(s)" in str(refused.value)


def test_a_name_built_from_a_generated_name_is_checked_at_its_longest() -> None:
    # The generated function name may be 64 characters; 20 + 64 + 172 > 255.
    name = {"Fn::Join": ["", ["modelship-guardrail-", {"Ref": "Fn"}, "-" + "e" * 171]]}
    refused = _template(Alarm=_with(ALARM, "AlarmName", name))
    accepted = _template(Alarm=_with(ALARM, "AlarmName", {"Fn::Join": ["", ["g-", {"Ref": "Fn"}]]}))

    assert "cloudwatch-alarm-name" in _rules(refused)
    assert "cloudwatch-alarm-name" not in _rules(accepted)


def test_function_code_and_layers_unzipped_are_at_most_250_mb(tmp_path: Path) -> None:
    code, layer = tmp_path / "asset.code", tmp_path / "asset.layer"
    code.mkdir()
    layer.mkdir()
    (code / "app.py").write_bytes(b"x" * 1024)
    with (layer / "big.so").open("wb") as out:  # sparse: no real disk used
        out.truncate(UNZIPPED_CODE_MAX_BYTES - 1024)

    assert "lambda-unzipped-size" not in _rules(_template(), tmp_path)
    (code / "more.py").write_bytes(b"y")
    assert "lambda-unzipped-size" in _rules(_template(), tmp_path)


def test_step_functions_log_groups_outside_vended_logs_are_advised_not_refused() -> None:
    logs = {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/modelship/sfn"}}
    machine = _with(
        MACHINE,
        "LoggingConfiguration",
        {
            "Level": "ALL",
            "Destinations": [
                {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["Logs", "Arn"]}}}
            ],
        },
    )

    validation = tv.validate(_template(Logs=logs, Machine=machine))

    assert validation.refusals == []
    assert [a.rule for a in validation.advisories] == ["sfn-vended-log-group"]
    vended = _with(logs, "LogGroupName", "/aws/vendedlogs/states/modelship")
    assert tv.validate(_template(Logs=vended, Machine=machine)).advisories == []


def test_the_deployer_refuses_an_access_log_variable_http_apis_reject() -> None:
    template = _template(Api=API, Stage=_with(STAGE, "AccessLogSettings.Format", STAGE_FORMAT_BAD))

    with pytest.raises(tv.TemplateRefused, match=r"\$context\.resourcePath"):
        tv.refuse_invalid(template)


def test_the_deployer_refuses_before_it_creates_anything(tmp_path: Path) -> None:
    template = _template(Fn=_with(FUNCTION, "Timeout", 3600))
    path = tmp_path / "stack.template.json"
    path.write_text(json.dumps(template))
    clients = Clients(*(mock.MagicMock() for _ in range(len(fields(Clients)))))

    with pytest.raises(tv.TemplateRefused, match="Fn: Timeout = 3600"):
        Deployer(clients, tmp_path).deploy(path)

    assert all(not client.method_calls for client in vars(clients).values())


@pytest.mark.parametrize(
    ("service", "operation", "member", "key", "ours"),
    [
        ("iam", "CreateRole", "RoleName", "max", ROLE_NAME[0]),
        ("iam", "CreateRole", "Path", "max", ROLE_PATH[0]),
        ("stepfunctions", "CreateStateMachine", "name", "max", STATE_MACHINE_NAME[0]),
        ("stepfunctions", "CreateStateMachine", "definition", "max", 1_048_576),
        ("cloudwatch", "PutMetricAlarm", "AlarmName", "max", ALARM_NAME_MAX),
        ("cloudwatch", "PutMetricAlarm", "AlarmDescription", "max", ALARM_DESCRIPTION_MAX),
        ("logs", "CreateLogGroup", "logGroupName", "max", LOG_GROUP_NAME[0]),
        ("events", "PutRule", "Name", "max", RULE_NAME[0]),
        ("sagemaker", "CreateTrainingJob", "TrainingJobName", "max", TRAINING_JOB_NAME[0]),
        ("lambda", "CreateFunction", "Description", "max", FUNCTION_DESCRIPTION_MAX),
        ("lambda", "CreateAlias", "Name", "max", ALIAS_NAME[0]),
        ("lambda", "CreateFunction", "MemorySize", "min", MEMORY_MB[0]),
        ("lambda", "CreateFunction", "EphemeralStorage", "min", EPHEMERAL_MB[0]),
        ("lambda", "PutFunctionEventInvokeConfig", "MaximumRetryAttempts", "max", 2),
        ("lambda", "PutFunctionEventInvokeConfig", "MaximumEventAgeInSeconds", "max", 21_600),
        ("firehose", "CreateDeliveryStream", "DeliveryStreamName", "max", DELIVERY_STREAM_NAME[0]),
    ],
)
def test_limits_agree_with_the_published_service_models(
    service: str, operation: str, member: str, key: str, ours: int
) -> None:
    # botocore ships the service models AWS publishes; their bounds are the API's own.
    shape = (
        botocore.session.get_session()
        .get_service_model(service)
        .operation_model(operation)
        .input_shape.members[member]
    )
    if member == "EphemeralStorage":
        shape = shape.members["Size"]
    assert shape.metadata[key] == ours


def test_firehose_limits_agree_with_the_published_service_model() -> None:
    model = botocore.session.get_session().get_service_model("firehose")

    assert model.shape_for("DeliveryStreamName").metadata["pattern"] == "[a-zA-Z0-9_.-]+"
    size, interval = model.shape_for("SizeInMBs"), model.shape_for("IntervalInSeconds")
    assert (size.metadata["min"], size.metadata["max"]) == BUFFER_SIZE_MIB
    assert (interval.metadata["min"], interval.metadata["max"]) == BUFFER_INTERVAL_SECONDS
    assert model.shape_for("ErrorOutputPrefix").metadata["max"] == PREFIX_CHARS


def test_the_fidelity_doc_lists_every_rule_the_tests_exercise() -> None:
    doc = (Path(__file__).parents[3] / "docs" / "aws-fidelity.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, re.MULTILINE))
    tested = {case[0] for case in CASES} | {"lambda-unzipped-size"}
    advisories = {"sfn-vended-log-group", "sfn-logging-name"}

    assert documented == tested | advisories
    assert f"That is {len(tested)} rules." in doc


def test_a_logged_state_machine_name_outside_the_logging_characters_is_advised() -> None:
    logged = _with(MACHINE, "LoggingConfiguration", {"Level": "ERROR", "Destinations": []})

    advised = tv.validate(_template(Machine=_with(logged, "StateMachineName", "retrain.churn")))
    plain = tv.validate(_template(Machine=logged))

    assert [a.rule for a in advised.advisories] == ["sfn-logging-name"]
    assert advised.refusals == []
    assert plain.advisories == []
