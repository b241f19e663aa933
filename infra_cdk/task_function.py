"""How modelship's Lambda functions are built: the dependency layer, runtime, architecture and
log retention they share, and a supporting function with its own role and log group, X-Ray
and the runtime acknowledgment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk import nag
from infra_cdk.settings import LOG_RETENTION_DAYS, Settings

# RetentionDays members carry names, not numbers; pair them with the days they stand for.
_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        [m for m in logs.RetentionDays if m != logs.RetentionDays.INFINITE],
        strict=True,
    )
)


def log_retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


@dataclass(frozen=True)
class FunctionBase:
    """What every function of one asset shares."""

    code: lambda_.Code
    layer: lambda_.ILayerVersion
    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    log_retention: logs.RetentionDays


@dataclass(frozen=True)
class FunctionRuntime:
    """What every function of one stack shares: the layer, runtime, architecture, retention."""

    layer: lambda_.ILayerVersion
    runtime: lambda_.Runtime
    architecture: lambda_.Architecture
    log_retention: logs.RetentionDays

    @classmethod
    def create(cls, scope: Construct, settings: Settings, layer_asset: Path) -> FunctionRuntime:
        """Creates the dependency layer (`DependencyLayer`) in `scope`."""
        runtime = lambda_.Runtime(
            settings.runtime, lambda_.RuntimeFamily.PYTHON, supports_snap_start=True
        )
        architecture = (
            lambda_.Architecture.ARM_64
            if settings.architecture == "arm64"
            else lambda_.Architecture.X86_64
        )
        layer = lambda_.LayerVersion(
            scope,
            "DependencyLayer",
            code=lambda_.Code.from_asset(str(layer_asset)),
            compatible_runtimes=[runtime],
            compatible_architectures=[architecture],
            description=f"modelship predict dependencies ({settings.runtime}, "
            f"{settings.architecture})",
        )
        return cls(layer, runtime, architecture, log_retention(settings.log_retention_days))

    def with_code(self, source_dir: Path) -> FunctionBase:
        code = lambda_.Code.from_asset(str(source_dir))
        return FunctionBase(code, self.layer, self.runtime, self.architecture, self.log_retention)


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
    nag.task_function(function)
    return function, role
