"""What CloudFormation and the AWS services refuse in a synthesized template, found before
the emulator provisions anything.

moto accepts any name, period or size; AWS does not. Each rule below checks one property the
way the service validates it and names its source in the AWS documentation (API references,
quotas pages). All findings are collected, as a CloudFormation deployment reports them, and
`refuse` raises one error listing them all. Values built with intrinsic functions are checked
with every generated name at its longest (CloudFormation names a resource
`<stack>-<logical id>-<suffix>`, cut to the service's limit), so a finding there means the
deployment can fail, depending on the names CloudFormation picks.

Advisories are what the docs recommend but the service accepts; they never refuse.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.template import PSEUDO, resolve


@dataclass(frozen=True)
class Finding:
    """One property AWS would refuse (or, for an advisory, warns about)."""

    rule: str
    logical_id: str
    prop: str
    value: Any
    limit: str

    def __str__(self) -> str:
        shown = self.value if isinstance(self.value, int | float) else repr(self.value)
        if isinstance(self.value, str) and len(self.value) > 120:
            shown = repr(self.value[:117] + "...")
        return f"{self.logical_id}: {self.prop} = {shown}: {self.limit}"


@dataclass
class Validation:
    refusals: list[Finding] = field(default_factory=list)
    advisories: list[Finding] = field(default_factory=list)

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.refusals}


class TemplateRefused(Exception):
    """The template holds properties AWS would refuse at deployment."""

    def __init__(self, refusals: list[Finding]) -> None:
        self.refusals = refusals
        lines = "\n".join(f"  - {finding}" for finding in refusals)
        super().__init__(f"AWS would refuse this template ({len(refusals)} finding(s)):\n{lines}")


# ---- limits, each with where it is documented

# IAM API reference, CreateRole: RoleName 1-64 [\w+=,.@-]+; Path 1-512, "/" or "/.../".
ROLE_NAME = (64, re.compile(r"[\w+=,.@-]+"))
ROLE_PATH = (512, re.compile(r"/|/[\x21-\x7e]+/"))
# Lambda API reference, CreateFunction: a function name is limited to 64 characters.
FUNCTION_NAME = (64, re.compile(r"[a-zA-Z0-9_-]+"))
# Step Functions API reference, CreateStateMachine: name 1-80 characters, none of white space,
# brackets < > { } [ ], wildcards ? *, special characters " # % \ ^ | ~ ` $ & , ; : /, or
# control characters; "to enable logging with CloudWatch Logs, the name should only contain
# 0-9, A-Z, a-z, - and _" (a recommendation: advisory).
STATE_MACHINE_NAME = (80, re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]+"))
STATE_MACHINE_LOGGING_NAME = re.compile(r"[0-9A-Za-z_-]+")
# Step Functions API reference, CreateStateMachine: definition at most 1,048,576 characters.
STATE_MACHINE_DEFINITION_MAX = 1_048_576
# CloudWatch API reference, PutMetricAlarm: AlarmName 1-255, AlarmDescription at most 1024.
ALARM_NAME_MAX = 255
ALARM_DESCRIPTION_MAX = 1024
# CloudWatch Logs API reference, CreateLogGroup: 1-512 characters of [\.\-_/#A-Za-z0-9].
LOG_GROUP_NAME = (512, re.compile(r"[.\-_/#A-Za-z0-9]+"))
# CloudWatch Logs API reference, PutRetentionPolicy: the possible values of retentionInDays.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)
# Step Functions developer guide, "Avoiding CloudWatch Logs resource policy size
# restrictions": prefix log group names with /aws/vendedlogs/ (a recommendation: advisory).
VENDED_LOGS_PREFIX = "/aws/vendedlogs/"
# SageMaker API reference, CreateTrainingJob: TrainingJobName 1-63,
# [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
TRAINING_JOB_NAME = (63, re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"))
# SQS API reference, CreateQueue: up to 80 alphanumeric characters, hyphens and underscores
# (a FIFO queue ends in .fifo). SNS API reference, CreateTopic: the same characters, 1-256.
QUEUE_NAME = (80, re.compile(r"[A-Za-z0-9_-]+(\.fifo)?"))
TOPIC_NAME = (256, re.compile(r"[A-Za-z0-9_-]+(\.fifo)?"))
# EventBridge API reference, PutRule: Name 1-64 [\.\-_A-Za-z0-9]+; PutTargets: Id likewise,
# Input at most 8192, RetryPolicy MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds
# 60-86400. EventBridge quotas: 5 targets per rule.
RULE_NAME = (64, re.compile(r"[.\-_A-Za-z0-9]+"))
TARGET_ID = RULE_NAME
TARGET_INPUT_MAX = 8192
TARGETS_PER_RULE = 5
RULE_RETRY_ATTEMPTS = (0, 185)
RULE_EVENT_AGE = (60, 86_400)
# API Gateway developer guide, "Quotas for configuring and running an HTTP API": access log
# template size 3 KB.
ACCESS_LOG_FORMAT_MAX = 3 * 1024
# API Gateway developer guide, "Customize HTTP API access logs": the $context variables an
# HTTP API stage accepts. $context.authorizer.<property> and .claims.<property> are open.
HTTP_API_ACCESS_LOG_VARIABLES = frozenset(
    f"$context.{name}"
    for name in (
        "accountId",
        "apiId",
        "authorizer.error",
        "authorizer.latency",
        "authorizer.principalId",
        "authorizer.status",
        "awsEndpointRequestId",
        "awsEndpointRequestId2",
        "customDomain.basePathMatched",
        "dataProcessed",
        "domainName",
        "domainPrefix",
        "error.message",
        "error.messageString",
        "error.responseType",
        "extendedRequestId",
        "httpMethod",
        "identity.accountId",
        "identity.caller",
        "identity.cognitoAuthenticationProvider",
        "identity.cognitoAuthenticationType",
        "identity.cognitoIdentityId",
        "identity.cognitoIdentityPoolId",
        "identity.principalOrgId",
        "identity.clientCert.clientCertPem",
        "identity.clientCert.subjectDN",
        "identity.clientCert.issuerDN",
        "identity.clientCert.serialNumber",
        "identity.clientCert.validity.notBefore",
        "identity.clientCert.validity.notAfter",
        "identity.sourceIp",
        "identity.user",
        "identity.userAgent",
        "identity.userArn",
        "integration.error",
        "integration.integrationStatus",
        "integration.latency",
        "integration.requestId",
        "integration.status",
        "integrationErrorMessage",
        "integrationLatency",
        "integrationStatus",
        "path",
        "protocol",
        "requestId",
        "requestTime",
        "requestTimeEpoch",
        "responseLatency",
        "responseLength",
        "routeKey",
        "stage",
        "status",
    )
)
HTTP_API_ACCESS_LOG_OPEN_PREFIXES = ("$context.authorizer.",)
_CONTEXT_VARIABLE = re.compile(r"\$context\.[A-Za-z0-9_.]*[A-Za-z0-9_]")
# CloudWatch API reference, PutMetricAlarm: Period 10, 20, 30 or any multiple of 60; Period x
# EvaluationPeriods at most 604,800 s, and at most 86,400 s for periods under 3,600 s;
# DatapointsToAlarm no more than EvaluationPeriods. MetricDataQuery: up to 20 structures in
# an alarm, at most 10 with a MetricStat and 10 with an Expression; one has ReturnData true
# (the default when omitted); an Id is letters, numbers and underscore, starting lowercase.
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
ALARM_WINDOW_MAX = 604_800
ALARM_WINDOW_MAX_SHORT_PERIOD = 86_400
ALARM_METRIC_STATS_MAX = 10
ALARM_EXPRESSIONS_MAX = 10
METRIC_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
# Lambda quotas ("Lambda quotas" page and the CreateFunction API reference), for functions
# without a capacity provider: memory 128-10,240 MB, timeout 1-900 s, /tmp 512-10,240 MB,
# 5 layers, 4 KB of environment variables in all, 250 MB unzipped (function and layers),
# description at most 256 characters.
MEMORY_MB = (128, 10_240)
TIMEOUT_S = (1, 900)
EPHEMERAL_MB = (512, 10_240)
LAYERS_MAX = 5
ENVIRONMENT_MAX_BYTES = 4 * 1024
# AccountLimit.CodeSizeUnzipped: 250 MB is 262,144,000 bytes.
UNZIPPED_CODE_MAX_BYTES = 250 * 1024 * 1024
FUNCTION_DESCRIPTION_MAX = 256
ENVIRONMENT_KEY = re.compile(r"[a-zA-Z][a-zA-Z0-9_]+")
# Lambda developer guide, "Defined runtime environment variables": keys Lambda reserves.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    (
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    )
)
# Lambda developer guide, "Improving startup performance with Lambda SnapStart": Java 11+,
# Python 3.12+ and .NET 8+ managed runtimes; no provisioned concurrency, no Amazon EFS, no
# ephemeral storage above 512 MB.
SNAPSTART_RUNTIME = re.compile(r"java(1[1-9]|[2-9]\d)|python3\.(1[2-9]|[2-9]\d)|dotnet([8-9]|\d\d)")
# Lambda API reference, CreateAlias: Name 1-128 of [a-zA-Z0-9-_], not only digits;
# AliasRoutingConfiguration: one additional version, weight 0.0-1.0.
ALIAS_NAME = (128, re.compile(r"(?![0-9]+$)[a-zA-Z0-9_-]+"))
# Lambda API reference, PutFunctionEventInvokeConfig: MaximumRetryAttempts 0-2,
# MaximumEventAgeInSeconds 60-21600.
ASYNC_RETRY_ATTEMPTS = (0, 2)
ASYNC_EVENT_AGE = (60, 21_600)
# Lambda API reference, PutFunctionConcurrency: ReservedConcurrentExecutions at least 0.

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


class _WorstCase:
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
    def __init__(self, worst: _WorstCase) -> None:
        super().__init__()
        self.worst = worst

    def __missing__(self, key: str) -> str:
        logical, attribute = key.split(".", 1)
        if logical in self.worst.resources and attribute in {"Arn", "FunctionArn"}:
            return self.worst.arn(logical)
        if attribute == "Name":
            return self.worst.name(logical)
        return "x" * 16


@dataclass
class _Context:
    template: Mapping[str, Any]
    resources: Mapping[str, Any]
    worst: _WorstCase
    cdk_out: Path | None
    validation: Validation

    def refuse(self, rule: str, logical: str, prop: str, value: Any, limit: str) -> None:
        self.validation.refusals.append(Finding(rule, logical, prop, value, limit))

    def advise(self, rule: str, logical: str, prop: str, value: Any, limit: str) -> None:
        self.validation.advisories.append(Finding(rule, logical, prop, value, limit))

    def text(self, raw: Any) -> str | None:
        """A string property as deployed (worst case for generated names), or None."""
        if raw is None:
            return None
        value = self.worst.value(raw)
        return value if isinstance(value, str) else str(value)

    def name(
        self,
        rule: str,
        logical: str,
        prop: str,
        raw: Any,
        limit: tuple[int, re.Pattern[str]],
        what: str,
    ) -> None:
        value = self.text(raw)
        if value is None:
            return
        maximum, pattern = limit
        built = "" if isinstance(raw, str) else " (generated names at their longest)"
        if not 1 <= len(value) <= maximum:
            self.refuse(
                rule,
                logical,
                prop,
                value,
                f"{what} is {len(value)} characters{built}, AWS allows 1-{maximum}",
            )
        elif not pattern.fullmatch(value):
            self.refuse(rule, logical, prop, value, f"{what} must match {pattern.pattern}")

    def in_range(
        self, rule: str, logical: str, prop: str, raw: Any, bounds: tuple[int, int], what: str
    ) -> None:
        if raw is None:
            return
        value = _number(raw)
        low, high = bounds
        if value is None or not low <= value <= high:
            self.refuse(rule, logical, prop, raw, f"{what} must be {low}-{high}")


Rule = Callable[[_Context, str, Mapping[str, Any]], None]


def _number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


# ---- rules, by resource type


def _role(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("iam-role-name", logical, "RoleName", props.get("RoleName"), ROLE_NAME, "a role name")
    ctx.name("iam-role-path", logical, "Path", props.get("Path"), ROLE_PATH, "a role path")


def _function(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "lambda-function-name",
        logical,
        "FunctionName",
        props.get("FunctionName"),
        FUNCTION_NAME,
        "a function name",
    )
    if props.get("CapacityProviderConfig") is None:
        ctx.in_range(
            "lambda-memory",
            logical,
            "MemorySize",
            props.get("MemorySize"),
            MEMORY_MB,
            "memory (MB)",
        )
        ctx.in_range(
            "lambda-timeout",
            logical,
            "Timeout",
            props.get("Timeout"),
            TIMEOUT_S,
            "the timeout (s)",
        )
    ephemeral = (props.get("EphemeralStorage") or {}).get("Size")
    ctx.in_range(
        "lambda-ephemeral-storage",
        logical,
        "EphemeralStorage.Size",
        ephemeral,
        EPHEMERAL_MB,
        "ephemeral storage (MB)",
    )
    description = props.get("Description")
    if isinstance(description, str) and len(description) > FUNCTION_DESCRIPTION_MAX:
        ctx.refuse(
            "lambda-description",
            logical,
            "Description",
            description,
            f"at most {FUNCTION_DESCRIPTION_MAX} characters",
        )
    _snapstart(ctx, logical, props, ephemeral)
    _environment(ctx, logical, props)
    layers = props.get("Layers") or []
    if len(layers) > LAYERS_MAX:
        ctx.refuse("lambda-layers", logical, "Layers", len(layers), f"at most {LAYERS_MAX} layers")
    concurrency = props.get("ReservedConcurrentExecutions")
    if concurrency is not None and (_number(concurrency) or 0) < 0:
        ctx.refuse(
            "lambda-reserved-concurrency",
            logical,
            "ReservedConcurrentExecutions",
            concurrency,
            "must be 0 or more",
        )
    _unzipped_size(ctx, logical, props)


def _snapstart(ctx: _Context, logical: str, props: Mapping[str, Any], ephemeral: Any) -> None:
    if (props.get("SnapStart") or {}).get("ApplyOn") != "PublishedVersions":
        return
    runtime = str(props.get("Runtime", ""))
    if not SNAPSTART_RUNTIME.fullmatch(runtime):
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "Runtime",
            runtime,
            "SnapStart needs a Java 11+, Python 3.12+ or .NET 8+ managed runtime",
        )
    if ephemeral is not None and (_number(ephemeral) or 0) > 512:
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "EphemeralStorage.Size",
            ephemeral,
            "SnapStart does not support ephemeral storage above 512 MB",
        )
    if props.get("FileSystemConfigs"):
        ctx.refuse(
            "lambda-snapstart",
            logical,
            "FileSystemConfigs",
            "EFS",
            "SnapStart does not support Amazon EFS",
        )
    for other, resource in ctx.resources.items():
        other_props = resource.get("Properties") or {}
        if (
            resource.get("Type") in {"AWS::Lambda::Version", "AWS::Lambda::Alias"}
            and other_props.get("FunctionName") == {"Ref": logical}
            and other_props.get("ProvisionedConcurrencyConfig")
        ):
            ctx.refuse(
                "lambda-snapstart",
                other,
                "ProvisionedConcurrencyConfig",
                other_props["ProvisionedConcurrencyConfig"],
                f"SnapStart (on {logical}) does not support provisioned concurrency",
            )


def _environment(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    for key in variables:
        if key in RESERVED_ENVIRONMENT_KEYS:
            ctx.refuse(
                "lambda-environment-keys",
                logical,
                f"Environment.Variables.{key}",
                key,
                "Lambda reserves this key",
            )
        elif not ENVIRONMENT_KEY.fullmatch(key):
            ctx.refuse(
                "lambda-environment-keys",
                logical,
                f"Environment.Variables.{key}",
                key,
                f"a key must match {ENVIRONMENT_KEY.pattern}",
            )
    # Lambda measures the variables as one JSON object ("String measured: {...}").
    resolved = ctx.worst.value(variables)
    size = len(json.dumps(resolved, separators=(",", ":")).encode())
    if size > ENVIRONMENT_MAX_BYTES:
        ctx.refuse(
            "lambda-environment-size",
            logical,
            "Environment.Variables",
            f"{size} bytes",
            f"at most {ENVIRONMENT_MAX_BYTES} bytes in all (generated names at their longest)",
        )


def _unzipped_size(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    if ctx.cdk_out is None:
        return
    parts = [("code", (props.get("Code") or {}).get("S3Key"))]
    for layer in props.get("Layers") or []:
        if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in ctx.resources:
            content = (ctx.resources[layer["Ref"]].get("Properties") or {}).get("Content")
            parts.append((f"layer {layer['Ref']}", (content or {}).get("S3Key")))
    measured = {what: _asset_bytes(ctx.cdk_out, key) for what, key in parts}
    sizes = {what: size for what, size in measured.items() if size is not None}
    total = sum(sizes.values())
    if total > UNZIPPED_CODE_MAX_BYTES:
        shown = ", ".join(f"{what} {size / 2**20:.1f} MiB" for what, size in sizes.items())
        ctx.refuse(
            "lambda-unzipped-size",
            logical,
            "Code + Layers",
            f"{total} bytes ({shown})",
            f"function and layers unzipped at most {UNZIPPED_CODE_MAX_BYTES} bytes (250 MB)",
        )


def _asset_bytes(cdk_out: Path, key: Any) -> int | None:
    if not isinstance(key, str):
        return None
    stem = key.removesuffix(".zip")
    directory, archive = cdk_out / f"asset.{stem}", cdk_out / f"asset.{stem}.zip"
    if directory.is_dir():
        return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    if archive.is_file():
        with zipfile.ZipFile(archive) as opened:
            return sum(info.file_size for info in opened.infolist())
    return None


def _alias(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("lambda-alias", logical, "Name", props.get("Name"), ALIAS_NAME, "an alias name")
    weights = (props.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or []
    if len(weights) > 1:
        ctx.refuse(
            "lambda-alias",
            logical,
            "RoutingConfig.AdditionalVersionWeights",
            len(weights),
            "an alias routes to at most one additional version",
        )
    for weight in weights:
        value = _number(weight.get("FunctionWeight"))
        if value is None or not 0.0 <= value <= 1.0:
            ctx.refuse(
                "lambda-alias",
                logical,
                "RoutingConfig.FunctionWeight",
                weight.get("FunctionWeight"),
                "a weight must be 0.0-1.0",
            )


def _version(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    description = props.get("Description")
    if isinstance(description, str) and len(description) > FUNCTION_DESCRIPTION_MAX:
        ctx.refuse(
            "lambda-description",
            logical,
            "Description",
            description,
            f"at most {FUNCTION_DESCRIPTION_MAX} characters",
        )


def _event_invoke_config(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.in_range(
        "lambda-async-config",
        logical,
        "MaximumRetryAttempts",
        props.get("MaximumRetryAttempts"),
        ASYNC_RETRY_ATTEMPTS,
        "retry attempts",
    )
    ctx.in_range(
        "lambda-async-config",
        logical,
        "MaximumEventAgeInSeconds",
        props.get("MaximumEventAgeInSeconds"),
        ASYNC_EVENT_AGE,
        "the event age (s)",
    )


def _state_machine(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sfn-state-machine-name",
        logical,
        "StateMachineName",
        props.get("StateMachineName"),
        STATE_MACHINE_NAME,
        "a state machine name",
    )
    logging_on = (props.get("LoggingConfiguration") or {}).get("Level", "OFF") != "OFF"
    name = ctx.text(props.get("StateMachineName"))
    if logging_on and name and not STATE_MACHINE_LOGGING_NAME.fullmatch(name):
        ctx.advise(
            "sfn-logging-name",
            logical,
            "StateMachineName",
            name,
            "with logging on, the name should only contain 0-9, A-Z, a-z, - and _",
        )
    raw = props.get("DefinitionString")
    definition = ctx.text(raw) if raw is not None else json.dumps(props.get("Definition", {}))
    if definition is not None:
        if len(definition) > STATE_MACHINE_DEFINITION_MAX:
            ctx.refuse(
                "sfn-definition-size",
                logical,
                "DefinitionString",
                f"{len(definition)} characters",
                f"at most {STATE_MACHINE_DEFINITION_MAX} characters",
            )
        _training_job_names(ctx, logical, definition)
    for destination in (props.get("LoggingConfiguration") or {}).get("Destinations") or []:
        group = (destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
        target = _log_group_name(ctx, group)
        if target is not None and not target.startswith(VENDED_LOGS_PREFIX):
            ctx.advise(
                "sfn-vended-log-group",
                logical,
                "LoggingConfiguration.Destinations",
                target,
                f"log groups not under {VENDED_LOGS_PREFIX} each grow the account's "
                "5,120-character CloudWatch Logs resource policy",
            )


def _log_group_name(ctx: _Context, arn: Any) -> str | None:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        logical = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        if logical in ctx.resources:
            name = (ctx.resources[logical].get("Properties") or {}).get("LogGroupName")
            return name if isinstance(name, str) else "(generated name)"
    text = ctx.text(arn)
    if text and ":log-group:" in text:
        return text.split(":log-group:", 1)[1].removesuffix(":*")
    return None


def _training_job_names(ctx: _Context, logical: str, definition: str) -> None:
    """Literal TrainingJobName parameters of SageMaker tasks (a JSONPath one is only known
    at run time)."""
    try:
        states = json.loads(definition)
    except ValueError:
        return
    for state_name, state in _states(states):
        resource = str(state.get("Resource", ""))
        if ":sagemaker:createTrainingJob" not in resource:
            continue
        name = (state.get("Parameters") or state.get("Arguments") or {}).get("TrainingJobName")
        if isinstance(name, str):
            ctx.name(
                "sagemaker-training-job-name",
                logical,
                f"States.{state_name}.Parameters.TrainingJobName",
                name,
                TRAINING_JOB_NAME,
                "a training job name",
            )


def _states(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in (machine.get("States") or {}).items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key])


def _alarm(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    name = ctx.text(props.get("AlarmName"))
    if name is not None and not 1 <= len(name) <= ALARM_NAME_MAX:
        ctx.refuse(
            "cloudwatch-alarm-name",
            logical,
            "AlarmName",
            name,
            f"an alarm name is {len(name)} characters, AWS allows 1-{ALARM_NAME_MAX}",
        )
    description = props.get("AlarmDescription")
    if isinstance(description, str) and len(description) > ALARM_DESCRIPTION_MAX:
        ctx.refuse(
            "cloudwatch-alarm-name",
            logical,
            "AlarmDescription",
            description,
            f"at most {ALARM_DESCRIPTION_MAX} characters",
        )
    evaluation = _number(props.get("EvaluationPeriods"))
    datapoints = _number(props.get("DatapointsToAlarm"))
    if evaluation is not None and datapoints is not None and datapoints > evaluation:
        ctx.refuse(
            "cloudwatch-alarm-datapoints",
            logical,
            "DatapointsToAlarm",
            props["DatapointsToAlarm"],
            f"must not exceed EvaluationPeriods ({props['EvaluationPeriods']})",
        )
    periods = []
    if props.get("Period") is not None:
        periods.append(("Period", props["Period"]))
    metrics = props.get("Metrics") or []
    for index, query in enumerate(metrics):
        period = (query.get("MetricStat") or {}).get("Period", query.get("Period"))
        if period is not None:
            periods.append((f"Metrics[{index}].Period", period))
    for prop, period in periods:
        value = _number(period)
        if value is None or not (
            value in HIGH_RESOLUTION_PERIODS or (value > 0 and value % 60 == 0)
        ):
            ctx.refuse(
                "cloudwatch-alarm-period",
                logical,
                prop,
                period,
                "a period must be 10, 20, 30 or a multiple of 60 seconds",
            )
        elif evaluation is not None:
            window = value * evaluation
            maximum = ALARM_WINDOW_MAX_SHORT_PERIOD if value < 3600 else ALARM_WINDOW_MAX
            if window > maximum:
                ctx.refuse(
                    "cloudwatch-alarm-window",
                    logical,
                    f"{prop} x EvaluationPeriods",
                    int(window),
                    f"at most {maximum} seconds for this period",
                )
    if metrics:
        _metric_math(ctx, logical, props, metrics)


def _metric_math(ctx: _Context, logical: str, props: Mapping[str, Any], metrics: list[Any]) -> None:
    stats = sum(1 for q in metrics if "MetricStat" in q)
    expressions = sum(1 for q in metrics if "Expression" in q)
    if stats > ALARM_METRIC_STATS_MAX or expressions > ALARM_EXPRESSIONS_MAX:
        ctx.refuse(
            "cloudwatch-metric-math",
            logical,
            "Metrics",
            f"{stats} metrics, {expressions} expressions",
            f"at most {ALARM_METRIC_STATS_MAX} metrics and {ALARM_EXPRESSIONS_MAX} "
            "expressions in an alarm",
        )
    returned = [q.get("Id") for q in metrics if q.get("ReturnData", True) is not False]
    if len(returned) != 1:
        ctx.refuse(
            "cloudwatch-metric-math",
            logical,
            "Metrics[].ReturnData",
            returned,
            "exactly one query of an alarm returns data",
        )
    for index, query in enumerate(metrics):
        query_id = query.get("Id")
        if not isinstance(query_id, str) or not METRIC_QUERY_ID.fullmatch(query_id):
            ctx.refuse(
                "cloudwatch-metric-math",
                logical,
                f"Metrics[{index}].Id",
                query_id,
                "an id is letters, digits and _ and starts with a lowercase letter",
            )
    for single in ("MetricName", "Namespace", "Dimensions", "Period", "Statistic", "Unit"):
        if props.get(single) is not None:
            ctx.refuse(
                "cloudwatch-metric-math",
                logical,
                single,
                props[single],
                "an alarm with Metrics cannot also set " + single,
            )


def _log_group(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "logs-log-group-name",
        logical,
        "LogGroupName",
        props.get("LogGroupName"),
        LOG_GROUP_NAME,
        "a log group name",
    )
    retention = props.get("RetentionInDays")
    if retention is not None and _number(retention) not in LOG_RETENTION_DAYS:
        ctx.refuse(
            "logs-retention",
            logical,
            "RetentionInDays",
            retention,
            f"must be one of {sorted(LOG_RETENTION_DAYS)}",
        )


def _rule(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("events-rule-name", logical, "Name", props.get("Name"), RULE_NAME, "a rule name")
    targets = props.get("Targets") or []
    if len(targets) > TARGETS_PER_RULE:
        ctx.refuse(
            "events-targets",
            logical,
            "Targets",
            len(targets),
            f"at most {TARGETS_PER_RULE} targets per rule",
        )
    for index, target in enumerate(targets):
        ctx.name(
            "events-targets",
            logical,
            f"Targets[{index}].Id",
            target.get("Id"),
            TARGET_ID,
            "a target id",
        )
        text = target.get("Input")
        if isinstance(text, str) and len(text) > TARGET_INPUT_MAX:
            ctx.refuse(
                "events-targets",
                logical,
                f"Targets[{index}].Input",
                f"{len(text)} characters",
                f"at most {TARGET_INPUT_MAX} characters",
            )
        retry = target.get("RetryPolicy") or {}
        ctx.in_range(
            "events-targets",
            logical,
            f"Targets[{index}].RetryPolicy.MaximumRetryAttempts",
            retry.get("MaximumRetryAttempts"),
            RULE_RETRY_ATTEMPTS,
            "retry attempts",
        )
        ctx.in_range(
            "events-targets",
            logical,
            f"Targets[{index}].RetryPolicy.MaximumEventAgeInSeconds",
            retry.get("MaximumEventAgeInSeconds"),
            RULE_EVENT_AGE,
            "the event age (s)",
        )


def _queue(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sqs-queue-name", logical, "QueueName", props.get("QueueName"), QUEUE_NAME, "a queue name"
    )


def _topic(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sns-topic-name", logical, "TopicName", props.get("TopicName"), TOPIC_NAME, "a topic name"
    )


def _stage(ctx: _Context, logical: str, props: Mapping[str, Any]) -> None:
    api = props.get("ApiId")
    api_id = api.get("Ref") if isinstance(api, dict) else None
    protocol = (
        ((ctx.resources.get(api_id) or {}).get("Properties") or {}).get("ProtocolType")
        if api_id
        else None
    )
    text = (props.get("AccessLogSettings") or {}).get("Format")
    if protocol != "HTTP" or not isinstance(text, str):
        return
    unsupported = sorted(
        {
            variable
            for variable in _CONTEXT_VARIABLE.findall(text)
            if variable not in HTTP_API_ACCESS_LOG_VARIABLES
            and not variable.startswith(HTTP_API_ACCESS_LOG_OPEN_PREFIXES)
        }
    )
    if unsupported:
        ctx.refuse(
            "http-api-access-log-variables",
            logical,
            "AccessLogSettings.Format",
            ", ".join(unsupported),
            "HTTP APIs do not support these $context variables (BadRequestException)",
        )
    if len(text.encode()) > ACCESS_LOG_FORMAT_MAX:
        ctx.refuse(
            "http-api-access-log-size",
            logical,
            "AccessLogSettings.Format",
            f"{len(text.encode())} bytes",
            "an access log template is at most 3 KB",
        )


RULES: dict[str, Rule] = {
    "AWS::IAM::Role": _role,
    "AWS::Lambda::Function": _function,
    "AWS::Lambda::Alias": _alias,
    "AWS::Lambda::Version": _version,
    "AWS::Lambda::EventInvokeConfig": _event_invoke_config,
    "AWS::StepFunctions::StateMachine": _state_machine,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::Events::Rule": _rule,
    "AWS::SQS::Queue": _queue,
    "AWS::SNS::Topic": _topic,
    "AWS::ApiGatewayV2::Stage": _stage,
}


def validate(template: Mapping[str, Any], cdk_out: Path | None = None) -> Validation:
    """Every finding in the template; `cdk_out` (the asset directories) enables the
    unzipped-size rule."""
    resources = template.get("Resources", {})
    ctx = _Context(template, resources, _WorstCase(resources), cdk_out, Validation())
    for logical, resource in resources.items():
        rule = RULES.get(resource.get("Type", ""))
        if rule is not None:
            rule(ctx, logical, resource.get("Properties") or {})
    return ctx.validation


def refuse_invalid(template: Mapping[str, Any], cdk_out: Path | None = None) -> Validation:
    """Raises TemplateRefused listing every finding, as a CloudFormation deployment fails;
    returns the validation otherwise."""
    validation = validate(template, cdk_out)
    if validation.refusals:
        raise TemplateRefused(validation.refusals)
    return validation
