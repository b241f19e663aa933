"""Every cdk-nag (AwsSolutions) acknowledgement of the app, each with its reason.

Every synth runs the AwsSolutions pack and fails on a finding nobody acknowledged (app.py).
A finding is acknowledged on the construct that raises it, IAM5 wildcards one resource
pattern at a time, written as cdk-nag prints them (`<LogicalId.Arn>` for a reference): a new
wildcard is a new finding, never covered by an old reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnElement, Names, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import IConstruct

from modelship import names

# X-Ray's PutTraceSegments/PutTelemetryRecords, log delivery and a few read actions have no
# resource-level permissions: "*" is the only resource they accept.
_ANY = "*"
_ACCOUNT = "<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The logical ID of an L2 construct's CloudFormation resource, as the template has it."""
    child = construct.node.default_child
    assert isinstance(child, CfnElement), f"{construct.node.path} has no CloudFormation resource"
    return Stack.of(construct).get_logical_id(child)


def _arn(construct: IConstruct, seen_from: IConstruct | None = None) -> str:
    """How cdk-nag spells the construct's ARN in a policy of `seen_from`: from a nested stack,
    a resource of the parent is a parameter CDK names reference-to-<unique id>.Arn
    (aws-cdk-lib core/lib/private/refs.ts), with the punctuation dropped."""
    if seen_from is not None and _stack_path(seen_from) != _stack_path(construct):
        child = construct.node.default_child
        assert isinstance(child, CfnElement), (
            f"{construct.node.path} has no CloudFormation resource"
        )
        return f"<referenceto{Names.unique_id(child)}Arn>"
    return f"<{logical_id(construct)}.Arn>"


def _stack_path(construct: IConstruct) -> str:
    return Stack.of(construct).node.path


def _account_arn(service: str, resource: str) -> str:
    return f"arn:{_ACCOUNT.format(service=service)}:{resource}"


def _wildcards(construct: IConstruct, reasons: dict[str, str]) -> None:
    for resource, reason in reasons.items():
        acknowledge(construct, f"AwsSolutions-IAM5[Resource::{resource}]", reason)


# ---- storage


def access_logs_bucket(bucket: s3.IBucket) -> None:
    acknowledge(
        bucket,
        "AwsSolutions-S1",
        "This bucket receives the model bucket's server access logs; logging it to "
        "itself would loop and to a third bucket only moves the finding.",
    )


def dead_letter_queue(queue: IConstruct, what: str) -> None:
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is the dead-letter queue: it holds failed invocations of "
        f"the {what} for an operator to read and replay.",
    )


# ---- the predict service


def predict_role(role: iam.IRole, bucket: s3.IBucket, model_prefix: str) -> None:
    _wildcards(
        role,
        {
            f"{_arn(bucket, role)}/{model_prefix}*": "Model versions are immutable objects "
            "under the model's own prefix; the wildcard covers versions published after deploy "
            "and nothing outside the prefix.",
        },
    )


def predict_function(function: lambda_.IFunction, role: iam.IRole) -> None:
    _wildcards(
        role,
        {
            _ANY: "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
            "permissions; this is the only statement on '*'.",
        },
    )
    acknowledge(
        function,
        "AwsSolutions-L1",
        "The runtime is the context setting 'runtime', matched to the wheels in the "
        "dependency layer; newer runtimes are opt-in after rebuilding the layer.",
    )


def shadow_mirror_policy(policy: iam.Policy, function: lambda_.IFunction) -> None:
    _wildcards(
        policy,
        {
            f"{_arn(function, policy)}:*": "A shadow release mirrors requests to a version of "
            "this same function published at run time (modelship shadow start); the wildcard "
            "covers this function's versions only.",
        },
    )


def capture_stream(role: iam.IRole, bucket: s3.IBucket) -> None:
    objects = _arn(bucket, role)
    _wildcards(
        role,
        {
            f"{objects}/{names.CAPTURE_PREFIX}/*": "Firehose names each delivered object itself "
            "(partition, hour, random suffix): the wildcard covers the capture prefix only.",
            f"{objects}/{names.CAPTURE_ERRORS_PREFIX}/*": "records Firehose could not "
            "partition, under the capture error prefix only, named by Firehose.",
        },
    )


def unauthorized_route(route: IConstruct, reason: str) -> None:
    acknowledge(route, "AwsSolutions-APIG4", f"authMode=none: {reason}")


# ---- supporting functions and state machines


def task_function(function: lambda_.IFunction) -> None:
    acknowledge(
        function,
        "AwsSolutions-L1",
        "The runtime matches the dependency layer's wheels (context 'runtime').",
    )


def release_function_role(
    role: iam.IRole, predict_function: lambda_.IFunction, bucket: s3.IBucket
) -> None:
    function = logical_id(predict_function)
    _wildcards(
        role,
        {
            f"<{function}.Arn>:*": "the published versions of the predict function only",
            f"{_arn(bucket, role)}/{names.RELEASES_PREFIX}/<{function}>/*": (
                "write-once history records of this function only"
            ),
            _account_arn("cloudwatch", f"alarm:{names.guardrail_alarm_prefix(f'<{function}>')}*"): (
                "this function's guardrail alarms, by their name prefix"
            ),
            _ANY: "X-Ray, cloudwatch:DescribeAlarms and (for classic metrics) "
            "cloudwatch:GetMetricData support no resource-level permissions",
        },
    )


def state_machine_role(role: iam.IRole, task_functions: Iterable[lambda_.IFunction]) -> None:
    _wildcards(
        role,
        {
            **{
                f"{_arn(fn)}:*": "Generated by CDK for Lambda tasks: versions of this task "
                "function only."
                for fn in task_functions
            },
            _ANY: "Log delivery and X-Ray support no resource-level permissions.",
        },
    )


# ---- retraining


def outcome_topic(topic: IConstruct) -> None:
    acknowledge(
        topic,
        "AwsSolutions-SNS2",
        "Outcome notices carry model versions, metrics and gate reasons, no customer data; "
        "SSE with the AWS managed key would block EventBridge/CloudWatch publishers later.",
    )


def retraining_task_role(
    role: iam.IRole, bucket: s3.IBucket, predict_function: lambda_.IFunction, model_name: str
) -> None:
    objects, function = _arn(bucket, role), logical_id(predict_function)
    _wildcards(
        role,
        {
            f"{objects}/{names.DATASETS_PREFIX}/{model_name}/*": "datasets of this model only",
            f"{objects}/{names.MODELS_PREFIX}/{model_name}/*": "versions of this model only",
            f"{objects}/{names.CANDIDATES_PREFIX}/{model_name}/*": (
                "challengers of this model only"
            ),
            f"{objects}/{names.RETRAINING_RUNS_PREFIX}/{model_name}/*": (
                "gate decisions of this model only"
            ),
            f"{objects}/{names.RELEASES_PREFIX}/<{function}>/*": "this function's release history",
            f"<{function}.Arn>:*": "published versions of the one predict function",
            _ANY: "X-Ray supports no resource-level permissions",
        },
    )


def retraining_trigger_role(role: iam.IRole, state_machine_name: str) -> None:
    _wildcards(
        role,
        {
            _account_arn("states", f"execution:{state_machine_name}:*"): (
                "Executions of this one state machine, looked up by name to drop duplicate events."
            ),
            _ANY: "X-Ray: no resource-level permissions",
        },
    )


def drift_monitor_role(
    role: iam.IRole, bucket: s3.IBucket, predict_function: lambda_.IFunction, model_name: str
) -> None:
    objects, function = _arn(bucket, role), logical_id(predict_function)
    _wildcards(
        role,
        {
            f"{objects}/{names.CAPTURE_PREFIX}/{model_name}/*": "captured requests of this "
            "model only, in hour folders written after deploy",
            f"{objects}/{names.MODELS_PREFIX}/{model_name}/*": "versions of this model only",
            f"{objects}/{names.MONITORING_PREFIX}/{model_name}/*": (
                "this model's drift reports and checkpoint only"
            ),
            f"<{function}.Arn>:*": "published versions of the one predict function",
            _ANY: "X-Ray supports no resource-level permissions",
        },
    )


def sagemaker_training_integration(state_machine_role: iam.IRole) -> None:
    _wildcards(
        state_machine_role,
        {
            _account_arn("sagemaker", "training-job/*"): (
                "Generated by CDK for the .sync integration: describe/stop the jobs it starts."
            ),
        },
    )


def training_job_role(
    role: iam.IRole, bucket: s3.IBucket, datasets_prefix: str, output_prefix: str
) -> None:
    _wildcards(
        role,
        {
            f"{_arn(bucket, role)}/{datasets_prefix}*": "datasets of this model only",
            f"{_arn(bucket, role)}/{output_prefix}*": "this model's training output only",
            _account_arn("logs", "log-group:/aws/sagemaker/TrainingJobs:*"): (
                "SageMaker's fixed log group for training jobs"
            ),
            _ANY: "ecr:GetAuthorizationToken has no resource-level permissions",
        },
    )
