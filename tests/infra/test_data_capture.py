"""Data capture in the template: the deployment's delivery stream, its role, the predict
functions' grant and environment, and the expiry of captured data."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra_cdk.data_capture import CAPTURE_ERROR_PREFIX, CAPTURE_S3_PREFIX, PARTITION_QUERY
from modelship import names
from tests.infra.template_queries import Synth, Synthesized, logical_id_starting, only, synthesized


def _policy_statements(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in resources.values()
        if policy["Type"] == "AWS::IAM::Policy"
        and {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _role_id(resources: dict[str, Any], prefix: str) -> str:
    (role_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and prefix in k]
    return role_id


def test_one_dynamically_partitioned_gzip_stream_to_the_model_bucket(template: Template) -> None:
    _, stream = only(template, "AWS::KinesisFirehose::DeliveryStream")
    props = stream["Properties"]
    destination = props["ExtendedS3DestinationConfiguration"]
    bucket_id = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")

    assert props["DeliveryStreamName"] == names.capture_stream_name("modelship-dev")
    assert props["DeliveryStreamType"] == "DirectPut"
    assert props["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    assert destination["BucketARN"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert destination["Prefix"] == CAPTURE_S3_PREFIX
    assert destination["Prefix"] == (
        "capture/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/"
        "!{timestamp:yyyy/MM/dd/HH}/"
    )
    assert destination["ErrorOutputPrefix"] == CAPTURE_ERROR_PREFIX
    assert destination["ErrorOutputPrefix"].startswith(f"{names.CAPTURE_ERRORS_PREFIX}/")
    assert destination["BufferingHints"]["SizeInMBs"] >= 64  # dynamic partitioning's minimum
    assert 60 <= destination["BufferingHints"]["IntervalInSeconds"] <= 900
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["EncryptionConfiguration"] == {"NoEncryptionConfig": "NoEncryption"}
    assert destination["DynamicPartitioningConfiguration"]["Enabled"] is True
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    assert processor["Type"] == "MetadataExtraction"
    assert {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]} == {
        "MetadataExtractionQuery": PARTITION_QUERY,
        "JsonParsingEngine": "JQ-1.6",
    }
    # Firehose checks its role when the stream is created.
    assert any("DeliveryRoleDefaultPolicy" in d for d in stream["DependsOn"])


def test_the_delivery_role_writes_the_capture_prefixes_only(template: Template) -> None:
    resources = template.to_json()["Resources"]
    role_id = _role_id(resources, "DataCaptureDeliveryRole")
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": {"Ref": "AWS::AccountId"}}},
            "Effect": "Allow",
            "Principal": {"Service": "firehose.amazonaws.com"},
        }
    ]
    statements = {s["Sid"]: s for s in _policy_statements(resources, role_id)}
    assert set(statements) == {
        "WriteCaptures",
        "CaptureMultipartUploads",
        "CaptureBucket",
        "DeliveryErrorLog",
    }
    bucket_id = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")
    objects = [
        {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}/*"]]}
        for prefix in (names.CAPTURE_PREFIX, names.CAPTURE_ERRORS_PREFIX)
    ]
    assert statements["WriteCaptures"]["Action"] == "s3:PutObject"
    assert statements["WriteCaptures"]["Resource"] == objects
    assert statements["CaptureMultipartUploads"]["Resource"] == objects
    assert statements["CaptureBucket"]["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert statements["DeliveryErrorLog"]["Action"] == "logs:PutLogEvents"
    assert all(s["Effect"] == "Allow" and s["Resource"] != "*" for s in statements.values())


def test_the_predict_function_may_put_batches_to_the_stream_only(template: Template) -> None:
    resources = template.to_json()["Resources"]
    stream_id, _ = only(template, "AWS::KinesisFirehose::DeliveryStream")
    statements = _policy_statements(resources, _role_id(resources, "PredictRole"))
    firehose = [s for s in statements if "firehose" in str(s["Action"])]

    assert firehose == [
        {
            "Action": "firehose:PutRecordBatch",
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [stream_id, "Arn"]},
            "Sid": "SendCaptures",
        }
    ]
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    environment = resources[function_id]["Properties"]["Environment"]["Variables"]
    assert environment[names.ENV_CAPTURE_STREAM] == names.capture_stream_name("modelship-dev")
    assert environment[names.ENV_CAPTURE_SAMPLE_RATE] == str(names.DEFAULT_CAPTURE_SAMPLE_RATE)
    assert environment[names.ENV_CAPTURE_EXCLUDE_FIELDS] == ""


def test_captured_data_expires_after_the_retention(synth: Synth) -> None:
    template = synth(captureRetentionDays=7, captureExcludeFields=["email", "phone"])
    _, bucket = next(
        (k, v)
        for k, v in template.find_resources("AWS::S3::Bucket").items()
        if "ModelBucket" in k and "Access" not in k
    )
    rules = {r["Id"]: r for r in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}

    for rule_id, prefix in (
        ("expire-captures", "capture/"),
        ("expire-capture-errors", "capture-errors/"),
    ):
        assert rules[rule_id]["Prefix"] == prefix
        assert rules[rule_id]["ExpirationInDays"] == 7
        assert rules[rule_id]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
        assert rules[rule_id]["Status"] == "Enabled"
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    environment = template.to_json()["Resources"][function_id]["Properties"]["Environment"]
    assert environment["Variables"][names.ENV_CAPTURE_EXCLUDE_FIELDS] == "email,phone"


def test_without_a_capturing_model_there_is_no_stream_grant_or_variable(synth: Synth) -> None:
    template = synth(captureSampleRate=0)
    resources = template.to_json()["Resources"]

    assert template.find_resources("AWS::KinesisFirehose::DeliveryStream") == {}
    assert "firehose" not in str(_policy_statements(resources, _role_id(resources, "PredictRole")))
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    assert names.ENV_CAPTURE_STREAM not in str(resources[function_id]["Properties"])


@pytest.fixture(scope="module")
def one_capturing() -> Synthesized:
    models = {"churn": {"captureSampleRate": 0}, "ltv": {"captureSampleRate": 1}}
    return synthesized(models=models)


def test_only_the_capturing_models_function_gets_the_grant(one_capturing: Synthesized) -> None:
    parent, nested = one_capturing.parent()["Resources"], one_capturing.nested("ltv")["Resources"]

    assert [v["Type"] for v in parent.values()].count("AWS::KinesisFirehose::DeliveryStream") == 1
    assert "firehose" not in str(_policy_statements(parent, _role_id(parent, "PredictRole")))
    ltv = _policy_statements(nested, _role_id(nested, "PredictRole"))
    (grant,) = [s for s in ltv if s.get("Sid") == "SendCaptures"]
    assert grant["Action"] == "firehose:PutRecordBatch"
    assert grant["Resource"]["Ref"].startswith("referenceto")  # the parent's stream ARN
