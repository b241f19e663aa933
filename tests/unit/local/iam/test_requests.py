"""The IAM action, resource ARN and context keys AWS evaluates for an API call."""

from __future__ import annotations

import pytest

from modelship.local.iam.requests import IamRequest, UnmappedOperation, iam_requests

FN = "arn:aws:lambda:us-east-1:123456789012:function:modelship-predict"


def test_list_objects_v2_is_list_bucket_with_the_prefix_as_context() -> None:
    (request,) = iam_requests("s3", "ListObjectsV2", {"Bucket": "b", "Prefix": "models/churn/"})
    assert request == IamRequest(
        "s3:ListBucket", "arn:aws:s3:::b", (("s3:prefix", "models/churn/"),)
    )


def test_without_a_prefix_the_prefix_key_is_absent() -> None:
    (request,) = iam_requests("s3", "ListObjectsV2", {"Bucket": "b"})
    assert request.context == ()


@pytest.mark.parametrize(
    ("operation", "params", "action"),
    [
        ("HeadObject", {}, "s3:GetObject"),
        ("GetObject", {}, "s3:GetObject"),
        ("GetObject", {"VersionId": "abc"}, "s3:GetObjectVersion"),
        ("PutObject", {}, "s3:PutObject"),
    ],
)
def test_object_calls(operation: str, params: dict[str, str], action: str) -> None:
    (request,) = iam_requests("s3", operation, {"Bucket": "b", "Key": "models/a b", **params})
    assert (request.action, request.resource) == (action, "arn:aws:s3:::b/models/a b")


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("GetAlias", "lambda:GetAlias"),
        ("UpdateAlias", "lambda:UpdateAlias"),
        ("CreateAlias", "lambda:CreateAlias"),
        ("ListAliases", "lambda:ListAliases"),
        ("PublishVersion", "lambda:PublishVersion"),
        ("ListVersionsByFunction", "lambda:ListVersionsByFunction"),
        ("UpdateFunctionConfiguration", "lambda:UpdateFunctionConfiguration"),
    ],
)
def test_alias_and_version_actions_are_authorized_on_the_unqualified_function(
    operation: str, action: str
) -> None:
    params = {"FunctionName": "modelship-predict", "Name": "live"}
    (request,) = iam_requests("lambda", operation, params)
    assert (request.action, request.resource) == (action, FN)


@pytest.mark.parametrize(
    ("operation", "action"),
    [
        ("Invoke", "lambda:InvokeFunction"),
        ("GetFunction", "lambda:GetFunction"),
        ("GetFunctionConfiguration", "lambda:GetFunctionConfiguration"),
    ],
)
def test_version_actions_use_the_qualified_arn(operation: str, action: str) -> None:
    by_param = iam_requests(
        "lambda", operation, {"FunctionName": "modelship-predict", "Qualifier": "7"}
    )
    by_arn = iam_requests("lambda", operation, {"FunctionName": f"{FN}:live"})
    unqualified = iam_requests("lambda", operation, {"FunctionName": FN})
    assert [r.resource for r in by_param + by_arn + unqualified] == [f"{FN}:7", f"{FN}:live", FN]
    assert {r.action for r in by_param} == {action}


def test_delete_alarms_is_one_request_per_alarm() -> None:
    requests = iam_requests("cloudwatch", "DeleteAlarms", {"AlarmNames": ["a", "b"]})
    assert [r.resource for r in requests] == [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:a",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:b",
    ]


def test_get_caller_identity_needs_no_permission() -> None:
    assert iam_requests("sts", "GetCallerIdentity", {}) == []


def test_an_unmapped_operation_is_refused() -> None:
    with pytest.raises(UnmappedOperation, match="unmapped operation lambda:DeleteFunction"):
        iam_requests("lambda", "DeleteFunction", {"FunctionName": "f"})


@pytest.mark.parametrize("operation", ["PutRecord", "PutRecordBatch"])
def test_firehose_puts_are_authorized_on_the_delivery_stream(operation: str) -> None:
    params = {"DeliveryStreamName": "modelship-dev-capture", "Records": [{"Data": b"{}\n"}]}
    (request,) = iam_requests("firehose", operation, params)
    assert request == IamRequest(
        f"firehose:{operation}",
        "arn:aws:firehose:us-east-1:123456789012:deliverystream/modelship-dev-capture",
    )
