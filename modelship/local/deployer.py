"""Provisions a synthesized CDK template (cdk.out) on the emulator's moto server.

moto's CloudFormation cannot deploy the template as CDK writes it (it fails on a
Lambda::Permission that points at an alias), so each resource is created through the
service's own API, in dependency order, with Ref, Fn::GetAtt, Fn::Sub and Fn::Join resolved.
Function code is not uploaded: the executor runs each function from its asset directory in
cdk.out, and the dependency layer is the local virtualenv. A resource type outside
`PROVISIONED` and `NOT_EMULATED` fails the deployment with a message naming it, and so does
anything AWS would refuse (modelship.local.template_checks), before anything is created.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.template import PSEUDO, load_template, resolve
from modelship.local.template_checks import refuse_invalid

ACCOUNT = PSEUDO["AWS::AccountId"]
REGION = PSEUDO["AWS::Region"]
# What the emulator leaves out, and why; anything else unknown is refused.
NOT_EMULATED = {
    "AWS::CDK::Metadata": "metadata",
    # Enforced from the template by modelship.local.iam, not stored in moto.
    "AWS::IAM::Policy": "IAM is enforced from the template (modelship.local.iam)",
    "AWS::IAM::ManagedPolicy": "IAM is enforced from the template (modelship.local.iam)",
    "AWS::Lambda::Permission": "enforced from the template (modelship.local.iam)",
    "AWS::S3::BucketPolicy": "enforced from the template (modelship.local.iam)",
    "AWS::SNS::TopicPolicy": "enforced from the template (modelship.local.iam)",
    "AWS::SQS::QueuePolicy": "enforced from the template (modelship.local.iam)",
    "AWS::ApiGatewayV2::Api": "served by the local HTTP gateway",
    "AWS::ApiGatewayV2::Integration": "served by the local HTTP gateway",
    "AWS::ApiGatewayV2::Route": "served by the local HTTP gateway (routes read from the template)",
    "AWS::ApiGatewayV2::Stage": "served by the local HTTP gateway",
    "AWS::Lambda::EventInvokeConfig": "asynchronous invocations are not retried locally",
}
_CDK_HASH = re.compile(r"[0-9A-F]{8}$")
_SUB_NAMES = re.compile(r"\$\{([^}!][^}]*)\}")


class UnsupportedResource(Exception):
    """The template holds a resource type the emulator cannot provision."""


@dataclass
class Deployment:
    """What was provisioned: physical names and ARNs by logical id, and the code roots."""

    stack_name: str
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    code_roots: dict[str, Path] = field(default_factory=dict)
    handlers: dict[str, str] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    advisories: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> dict[str, str]:
        return {lid: self.refs[lid] for lid, t in self.types.items() if t == kind}

    def function_with_handler(self, handler: str) -> str:
        found = [name for name, h in self.handlers.items() if h == handler]
        if len(found) != 1:
            raise UnsupportedResource(f"expected one function with handler {handler}: {found}")
        return found[0]

    def state_machine(self, logical_prefix: str) -> str | None:
        machines = self.of_type("AWS::StepFunctions::StateMachine")
        found = [arn for lid, arn in machines.items() if lid.startswith(logical_prefix)]
        return found[0] if len(found) == 1 else None


@dataclass
class Clients:
    s3: Any
    lambda_: Any
    iam: Any
    sfn: Any
    cloudwatch: Any
    events: Any
    sns: Any
    logs: Any
    sts: Any
    sqs: Any


def find_template(cdk_out: Path) -> Path:
    templates = sorted(cdk_out.glob("*.template.json"))
    if len(templates) != 1:
        raise FileNotFoundError(
            f"expected one stack template in {cdk_out}, found {[t.name for t in templates]}: "
            "run `make synth` first"
        )
    return templates[0]


def _physical(stack: str, logical: str, limit: int = 64) -> str:
    return f"{stack}-{_CDK_HASH.sub('', logical)}"[:limit]


def _references(value: Any) -> set[str]:
    """Logical ids a property value refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                return {arg}
            if key == "Fn::GetAtt":
                logical = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return {logical}
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                found |= {m.split(".", 1)[0] for m in _SUB_NAMES.findall(text)}
                return found | _references(variables)
        for item in value.values():
            found |= _references(item)
    return found


def deployment_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids, each after everything it refers to or depends on."""
    pending = {
        logical: (
            _references(resource.get("Properties", {})) | set(_as_list(resource.get("DependsOn")))
        )
        & set(resources)
        for logical, resource in resources.items()
    }
    order: list[str] = []
    while pending:
        ready = sorted(lid for lid, deps in pending.items() if not deps - set(order))
        if not ready:
            raise UnsupportedResource(f"circular references between {sorted(pending)}")
        order += ready
        for lid in ready:
            del pending[lid]
    return order


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "local emulator: the code runs from cdk.out\n")
    return buffer.getvalue()


class Deployer:
    def __init__(self, clients: Clients, cdk_out: Path) -> None:
        self.clients = clients
        # Workers run in their own directories: code roots must be absolute.
        self.cdk_out = cdk_out.resolve()
        self._provisioners: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "AWS::IAM::Role": self._role,
            "AWS::S3::Bucket": self._bucket,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::SQS::Queue": self._queue,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Version": self._version,
            "AWS::Lambda::Alias": self._alias,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::Events::Rule": self._rule,
        }

    def check(self, template: Mapping[str, Any]) -> None:
        """Refuses a template with resource types the emulator does not support."""
        unsupported = sorted(
            f"{logical} ({resource.get('Type')})"
            for logical, resource in template.get("Resources", {}).items()
            if resource.get("Type") not in self._provisioners
            and resource.get("Type") not in NOT_EMULATED
        )
        if unsupported:
            raise UnsupportedResource(
                "the local emulator does not support these resources: " + ", ".join(unsupported)
            )

    def deploy(self, template_path: Path | None = None) -> Deployment:
        path = template_path or find_template(self.cdk_out)
        template = load_template(path)
        self.check(template)
        validation = refuse_invalid(template, self.cdk_out)
        self.deployment = Deployment(stack_name=path.name.removesuffix(".template.json"))
        self.deployment.advisories = [str(finding) for finding in validation.advisories]
        resources = template.get("Resources", {})
        for logical in deployment_order(resources):
            resource = resources[logical]
            kind = resource["Type"]
            self.deployment.types[logical] = kind
            if kind in NOT_EMULATED:
                self._not_emulated(logical, resource)
                continue
            properties = self._resolve(resource.get("Properties", {}))
            self._provisioners[kind](logical, properties)
        return self.deployment

    def _resolve(self, value: Any) -> Any:
        return resolve(value, self.deployment.refs, self.deployment.attributes)

    def _name(self, logical: str, limit: int = 64) -> str:
        return _physical(self.deployment.stack_name, logical, limit)

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def _not_emulated(self, logical: str, resource: Mapping[str, Any]) -> None:
        deployment = self.deployment
        deployment.skipped[logical] = NOT_EMULATED[resource["Type"]]
        deployment.refs[logical] = self._name(logical)
        if resource["Type"] == "AWS::ApiGatewayV2::Route":
            deployment.routes.append(str(resource["Properties"]["RouteKey"]))

    # ---- one method per resource type

    def _role(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self._name(logical)
        role = self.clients.iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = role["Arn"]
        self.deployment.attributes[f"{logical}.RoleId"] = role["RoleId"]

    def _bucket(self, logical: str, props: dict[str, Any]) -> None:
        s3 = self.clients.s3
        name = props.get("BucketName") or self._name(logical, 63).lower()
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

    def _log_group(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or f"/local/{self._name(logical)}"
        self.clients.logs.create_log_group(logGroupName=name)
        self.deployment.refs[logical] = name
        self.deployment.attributes[f"{logical}.Arn"] = self._arn("logs", f"log-group:{name}:*")

    def _topic(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("TopicName") or self._name(logical, 256)
        arn = self.clients.sns.create_topic(Name=name)["TopicArn"]
        self.deployment.refs[logical] = arn
        self.deployment.attributes[f"{logical}.TopicArn"] = arn
        self.deployment.attributes[f"{logical}.TopicName"] = name

    def _queue(self, logical: str, props: dict[str, Any]) -> None:
        # Dead-letter queues: created so rules and functions can name them; nothing is sent
        # to them locally (asynchronous deliveries are not retried, see docs/local.md).
        name = props.get("QueueName") or self._name(logical, 80)
        url = self.clients.sqs.create_queue(QueueName=name)["QueueUrl"]
        self.deployment.refs[logical] = url
        self.deployment.attributes[f"{logical}.Arn"] = self._arn("sqs", name)
        self.deployment.attributes[f"{logical}.QueueName"] = name
        self.deployment.attributes[f"{logical}.QueueUrl"] = url

    def _subscription(self, logical: str, props: dict[str, Any]) -> None:
        arn = self.clients.sns.subscribe(
            TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
        )["SubscriptionArn"]
        self.deployment.refs[logical] = arn

    def _layer(self, logical: str, props: dict[str, Any]) -> None:
        # The layer's packages are the local virtualenv's; moto keeps a placeholder.
        name = props.get("LayerName") or self._name(logical)
        layer = self.clients.lambda_.publish_layer_version(
            LayerName=name,
            Description=props.get("Description", ""),
            Content={"ZipFile": _placeholder_zip()},
            CompatibleRuntimes=props.get("CompatibleRuntimes", []),
        )
        self.deployment.refs[logical] = layer["LayerVersionArn"]

    def _function(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("FunctionName") or self._name(logical)
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

    def _version(self, logical: str, props: dict[str, Any]) -> None:
        published = self.clients.lambda_.publish_version(
            FunctionName=props["FunctionName"], Description=props.get("Description", "")
        )
        self.deployment.refs[logical] = published["FunctionArn"]
        self.deployment.attributes[f"{logical}.Version"] = published["Version"]
        self.deployment.attributes[f"{logical}.FunctionArn"] = published["FunctionArn"]

    def _alias(self, logical: str, props: dict[str, Any]) -> None:
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

    def _state_machine(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("StateMachineName") or self._name(logical, 80)
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

    def _alarm(self, logical: str, props: dict[str, Any]) -> None:
        kwargs = {key: props[key] for key in self._ALARM_KEYS if key in props}
        kwargs.setdefault("AlarmName", self._name(logical, 255))
        for key in ("EvaluationPeriods", "DatapointsToAlarm", "Period"):
            if key in kwargs:
                kwargs[key] = int(kwargs[key])
        kwargs["Threshold"] = float(kwargs["Threshold"])
        self.clients.cloudwatch.put_metric_alarm(**kwargs)
        self.deployment.refs[logical] = kwargs["AlarmName"]
        self.deployment.attributes[f"{logical}.Arn"] = self._arn(
            "cloudwatch", f"alarm:{kwargs['AlarmName']}"
        )

    _TARGET_KEYS = ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn")

    def _rule(self, logical: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or self._name(logical)
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
