"""A Lambda function as modelship's supporting functions are built: its own role and log
group with retention, the dependency layer, X-Ray, and the runtime acknowledgment."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Size, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


@dataclass(frozen=True)
class FunctionBase:
    """What every function of one stack shares."""

    code: lambda_.Code
    layer: lambda_.ILayerVersion
    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    log_retention: logs.RetentionDays


def task_function(
    scope: Construct,
    name: str,
    *,
    base: FunctionBase,
    handler: str,
    description: str,
    role_description: str,
    environment: dict[str, str],
    memory_mb: int = 256,
    timeout: Duration | None = None,
    storage_mb: int = 512,
    function_id: str | None = None,
) -> tuple[lambda_.Function, iam.Role]:
    """Creates `<name>LogGroup`, `<name>Role` and the function (`function_id`, else `name`)."""
    log_group = logs.LogGroup(
        scope,
        f"{name}LogGroup",
        retention=base.log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{name}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=role_description,
    )
    log_group.grant_write(role)
    function = lambda_.Function(
        scope,
        function_id or name,
        description=description,
        code=base.code,
        handler=handler,
        runtime=base.runtime,
        architecture=base.architecture,
        layers=[base.layer],
        role=role,
        memory_size=memory_mb,
        timeout=timeout or Duration.seconds(60),
        ephemeral_storage_size=Size.mebibytes(storage_mb),
        environment=environment,
        log_group=log_group,
        tracing=lambda_.Tracing.ACTIVE,
    )
    Validations.of(function).acknowledge(
        Acknowledgment(
            id="AwsSolutions-L1",
            reason="The runtime matches the dependency layer's wheels (context 'runtime').",
        )
    )
    return function, role
