"""The emulator's provisioners: one per resource type, each creating its resource through
the service's own API on the moto server and recording its Ref and Fn::GetAtt values.

Function code is not uploaded: the executor runs each function from its asset directory in
cdk.out, and the dependency layer is the local virtualenv; moto keeps placeholders.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.local.deployment import (
    ACCOUNT,
    REGION,
    Clients,
    Deployment,
    UnsupportedResource,
    physical_name,
)


@dataclass
class Provisioner:
    """Creates resources of one deployment; properties arrive with intrinsics resolved."""

    clients: Clients
    deployment: Deployment
    # Absolute: workers run in their own directories.
    cdk_out: Path

    def name(self, logical: str, limit: int = 64) -> str:
        return physical_name(self.deployment.stack_name, logical, limit)

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def role(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self.name(logical)
        role = self.clients.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = role["Arn"]
        self.deployment.attributes[f"{logical}.RoleId"] = role["RoleId"]

    def bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3 = self.clients.s3
        name = props.get("BucketName") or self.name(logical, 63).lower()
        s3.create_bucket(Bucket=name)
        if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        notifications = props.get("NotificationConfiguration") or {}
        if (notifications.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled"):
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
        self.deployment.refs[logical] = name
        for attribute, value in {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        }.items():
            self.deployment.attributes[f"{logical}.{attribute}"] = value

    def log_group(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or f"/local/{self.name(logical)}"
        self.clients.logs.create_log_group(logGroupName=name)
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = self.arn("logs", f"log-group:{name}:*")

    def log_stream(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("LogStreamName") or self.name(logical, 512)
        self.clients.logs.create_log_stream(logGroupName=props["LogGroupName"], logStreamName=name)
        self.deployment.refs[logical] = name

    def delivery_stream(self, logical: str, props: dict[str, Any]) -> None:
        """Delivered to the emulator's S3 as configured (modelship.local.firehose_delivery)."""
        from modelship.local.firehose_delivery import UnsupportedQuery, partition_query

        name = props.get("DeliveryStreamName") or self.name(logical)
        destination = props.get("ExtendedS3DestinationConfiguration")
        if destination is None:
            raise UnsupportedResource(
                f"{logical}: only ExtendedS3 delivery streams are emulated (DirectPut to S3)"
            )
        for processor in (destination.get("ProcessingConfiguration") or {}).get("Processors", []):
            for parameter in processor.get("Parameters", []):
                if parameter.get("ParameterName") == "MetadataExtractionQuery":
                    try:
                        partition_query(str(parameter["ParameterValue"]))
                    except UnsupportedQuery as exc:
                        raise UnsupportedResource(f"{logical}: {exc}") from None
        arn = self.clients.firehose.create_delivery_stream(
            DeliveryStreamName=name,
            DeliveryStreamType=props.get("DeliveryStreamType", "DirectPut"),
            ExtendedS3DestinationConfiguration=destination,
        )["DeliveryStreamARN"]
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = arn

    def topic(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("TopicName") or self.name(logical, 256)
        arn = self.clients.sns.create_topic(Name=name)["TopicArn"]
        self.deployment.refs[logical] = arn
        self.deployment.attributes[f"{logical}.TopicArn"] = arn
        self.deployment.attributes[f"{logical}.TopicName"] = name

    def queue(self, logical: str, props: dict[str, Any]) -> None:
        # Dead-letter queues: created so rules and functions can name them; nothing is sent
        # to them locally (asynchronous deliveries are not retried, see docs/local.md).
        name = props.get("QueueName") or self.name(logical, 80)
        url = self.clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.deployment.refs[logical] = url
        self.deployment.attributes[f"{logical}.Arn"] = self.arn("sqs", name)
        self.deployment.attributes[f"{logical}.QueueName"] = name
        self.deployment.attributes[f"{logical}.QueueUrl"] = url

    def subscription(self, logical: str, props: dict[str, Any]) -> None:
        arn = self.clients.sns.subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )["SubscriptionArn"]
        self.deployment.refs[logical] = arn

    def layer(self, logical: str, props: dict[str, Any]) -> None:
        # The layer's packages are the local virtualenv's; moto keeps a placeholder.
        name = props.get("LayerName") or self.name(logical)
        layer = self.clients.lambda_.publish_layer_version(
            LayerName=name,
            Description=props.get("Description", ""),
            Content={"ZipFile": _placeholder_zip()},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
        )
        self.deployment.refs[logical] = layer["LayerVersionArn"]

    def function(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("FunctionName") or self.name(logical)
        kwargs: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props.get("Runtime", "python3.12"),
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Code": {"ZipFile": _placeholder_zip()},
            "Description": props.get("Description", ""),
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {"Variables": (props.get("Environment") or {}).get("Variables", {})},
            "Layers": props.get("Layers", []),
        }
        if props.get("EphemeralStorage"):
            kwargs["EphemeralStorage"] = props["EphemeralStorage"]
        created = self.clients.lambda_.create_function(**kwargs)
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = created["FunctionArn"]
        self.deployment.handlers[name] = props["Handler"]
        self.deployment.environments[name] = dict(kwargs["Environment"]["Variables"])
        self.deployment.code_roots[name] = self._code_root(logical, props)

    def _code_root(self, logical: str, props: Mapping[str, Any]) -> Path:
        key = str((props.get("Code") or {}).get("S3Key", ""))
        asset = self.cdk_out / f"asset.{key.removesuffix('.zip')}"
        if asset.is_dir():
            return asset
        raise UnsupportedResource(
            f"function {logical}: its code asset {asset.name} is not a directory in "
            f"{self.cdk_out}; the emulator runs functions from unzipped assets"
        )

    def version(self, logical: str, props: dict[str, Any]) -> None:
        published = self.clients.lambda_.publish_version(
            FunctionName=props["FunctionName"], Description=props.get("Description", "")
        )
        self.deployment.refs[logical] = published["FunctionArn"]
        self.deployment.attributes[f"{logical}.Version"] = published["Version"]
        self.deployment.attributes[f"{logical}.FunctionArn"] = published["FunctionArn"]

    def alias(self, logical: str, props: dict[str, Any]) -> None:
        kwargs: dict[str, Any] = {
            "FunctionName": props["FunctionName"],
            "Name": props["Name"],
            "FunctionVersion": props["FunctionVersion"],
        }
        routing = props.get("RoutingConfig") or {}
        weights = routing.get("AdditionalVersionWeights") or []
        if weights:
            kwargs["RoutingConfig"] = {
                "AdditionalVersionWeights": {
                    str(w["FunctionVersion"]): float(w["FunctionWeight"]) for w in weights
                }
            }
        alias = self.clients.lambda_.create_alias(**kwargs)
        self.deployment.refs[logical] = alias["AliasArn"]

    def state_machine(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("StateMachineName") or self.name(logical, 80)
        definition = props.get("DefinitionString")
        if definition is None:
            definition = json.dumps(props["Definition"])
        created = self.clients.sfn.create_state_machine(
            name=name,
            definition=definition,
            roleArn=props["RoleArn"],
            type=props.get("StateMachineType", "STANDARD"),
        )
        arn = created["stateMachineArn"]
        self.deployment.refs[logical] = arn
        self.deployment.attributes[f"{logical}.Arn"] = arn
        self.deployment.attributes[f"{logical}.Name"] = name

    _ALARM_KEYS = (
        "AlarmName",
        "AlarmDescription",
        "ActionsEnabled",
        "ComparisonOperator",
        "DatapointsToAlarm",
        "Dimensions",
        "EvaluateLowSampleCountPercentile",
        "EvaluationPeriods",
        "ExtendedStatistic",
        "MetricName",
        "Metrics",
        "Namespace",
        "Period",
        "Statistic",
        "Threshold",
        "TreatMissingData",
        "Unit",
    )

    def alarm(self, logical: str, props: dict[str, Any]) -> None:
        kwargs = {key: props[key] for key in self._ALARM_KEYS if key in props}
        kwargs.setdefault("AlarmName", self.name(logical, 255))
        for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        kwargs["Threshold"] = float(kwargs["Threshold"])
        self.clients.cloudwatch.put_metric_alarm(**kwargs)
        self.deployment.refs[logical] = kwargs["AlarmName"]
        self.deployment.attributes[f"{logical}.Arn"] = self.arn(
            "cloudwatch", f"alarm:{kwargs['AlarmName']}"
        )

    _TARGET_KEYS = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn")

    def rule(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self.name(logical)
        kwargs: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if props.get("EventPattern") is not None:
            kwargs["EventPattern"] = json.dumps(props["EventPattern"])
        if props.get("ScheduleExpression"):
            kwargs["ScheduleExpression"] = props["ScheduleExpression"]
        if props.get("Description"):
            kwargs["Description"] = props["Description"]
        arn = self.clients.events.put_rule(**kwargs)["RuleArn"]
        targets = [
            {key: target[key] for key in self._TARGET_KEYS if key in target}
            for target in props.get("Targets", [])
        ]
        if targets:
            self.clients.events.put_targets(Rule=name, Targets=targets)
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = arn

    def parameter(self, logical: str, props: dict[str, Any]) -> None:
        # AWS::SSM::Parameter: Ref is the name, Fn::GetAtt gives Type and Value.
        name = props.get("Name") or f"CFN-{self.name(logical, 1011)}"
        kwargs: dict[str, Any] = {
            "Name": name,
            "Value": str(props["Value"]),
            "Type": props.get("Type", "String"),
        }
        for key in ("Description", "AllowedPattern", "Tier", "DataType"):
            if props.get(key):
                kwargs[key] = props[key]
        if props.get("Tags"):
            kwargs["Tags"] = [{"Key": k, "Value": str(v)} for k, v in props["Tags"].items()]
        self.clients.ssm.put_parameter(**kwargs)
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Type"] = kwargs["Type"]
        self.deployment.attributes[f"{logical}.Value"] = kwargs["Value"]
        self.deployment.parameters[name] = kwargs["Value"]


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "local emulator: the code runs from cdk.out\n")
    return buffer.getvalue()


PROVISIONERS: dict[str, Callable[[Provisioner, str, dict[str, Any]], None]] = {
    "AWS::IAM::Role": Provisioner.role,
    "AWS::S3::Bucket": Provisioner.bucket,
    "AWS::Logs::LogGroup": Provisioner.log_group,
    "AWS::Logs::LogStream": Provisioner.log_stream,
    "AWS::KinesisFirehose::DeliveryStream": Provisioner.delivery_stream,
    "AWS::SNS::Topic": Provisioner.topic,
    "AWS::SNS::Subscription": Provisioner.subscription,
    "AWS::SQS::Queue": Provisioner.queue,
    "AWS::Lambda::LayerVersion": Provisioner.layer,
    "AWS::Lambda::Function": Provisioner.function,
    "AWS::Lambda::Version": Provisioner.version,
    "AWS::Lambda::Alias": Provisioner.alias,
    "AWS::StepFunctions::StateMachine": Provisioner.state_machine,
    "AWS::CloudWatch::Alarm": Provisioner.alarm,
    "AWS::Events::Rule": Provisioner.rule,
    "AWS::SSM::Parameter": Provisioner.parameter,
}
