"""Ref and Fn::GetAtt with every name CloudFormation may generate at its longest.

CloudFormation names a resource `<stack>-<logical id>-<suffix>`, cut to the service's limit;
a property built from such names is checked with each at that limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelship.local.template import PSEUDO, resolve

# The longest name CloudFormation may generate for a resource (the service's own limit).
_GENERATED_NAME_MAX = {
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::S3::Bucket": 63,
    "AWS::Logs::LogGroup": 512,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::SNS::Topic": 256,
    "AWS::SQS::Queue": 80,
    "AWS::CloudWatch::Alarm": 255,
    "AWS::Events::Rule": 64,
    "AWS::Lambda::LayerVersion": 140,
}
_NAME_PROPERTY = {
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::Events::Rule": "Name",
    "AWS::Lambda::LayerVersion": "LayerName",
}


class WorstCase:
    """What Ref and Fn::GetAtt return, with every generated name at its longest."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self.resources = resources
        self.refs = {logical: self._ref(logical) for logical in resources}
        self.attributes = _Attributes(self)

    def name(self, logical: str) -> str:
        resource = self.resources[logical]
        kind = resource.get("Type", "")
        given = (resource.get("Properties") or {}).get(_NAME_PROPERTY.get(kind, ""))
        if isinstance(given, str):
            return given
        return "x" * _GENERATED_NAME_MAX.get(kind, 32)

    def arn(self, logical: str) -> str:
        kind = self.resources[logical].get("Type", "")
        region, account = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
        name = self.name(logical)
        return {
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::StepFunctions::StateMachine": (
                f"arn:aws:states:{region}:{account}:stateMachine:{name}"
            ),
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{name}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
            "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{region}:{account}:layer:{name}:1",
        }.get(kind, f"arn:aws:x:{region}:{account}:{logical}")

    def _ref(self, logical: str) -> str:
        kind = self.resources[logical].get("Type", "")
        if kind in {
            "AWS::StepFunctions::StateMachine",
            "AWS::SNS::Topic",
            "AWS::Lambda::LayerVersion",
            "AWS::Lambda::Version",
            "AWS::Lambda::Alias",
        }:
            return self.arn(logical)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{PSEUDO['AWS::Region']}.amazonaws.com/123456789012/x"
        if kind in _GENERATED_NAME_MAX:
            return self.name(logical)
        return "x" * 16

    def value(self, raw: Any) -> Any:
        return resolve(raw, self.refs, self.attributes)


class _Attributes(dict[str, str]):
    def __init__(self, worst: WorstCase) -> None:
        super().__init__()
        self.worst = worst

    def __missing__(self, key: str) -> str:
        logical, attribute = key.split(".", 1)
        if logical in self.worst.resources and attribute in {"Arn", "FunctionArn"}:
            return self.worst.arn(logical)
        if attribute == "Name":
            return self.worst.name(logical)
        return "x" * 16
