"""The predict service: model bucket, dependency layer, function, `live` alias and HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Size,
    Stack,
    Validations,
)
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct, IConstruct

from infra_cdk.bucket_access import grant_prefix_read
from infra_cdk.guardrails import Guardrails
from infra_cdk.layer_recipe import pinned_version
from infra_cdk.predict_source import stage_function_source, stage_predict_source
from infra_cdk.release_machine import ReleaseFunctions, ReleaseMachine
from infra_cdk.retraining import RetrainingOptions, RetrainingPipeline
from infra_cdk.settings import LOG_RETENTION_DAYS, Settings
from modelship import names

ROUTES: tuple[tuple[str, apigwv2.HttpMethod], ...] = (
    ("/predict", apigwv2.HttpMethod.POST),
    ("/health", apigwv2.HttpMethod.GET),
    ("/model/info", apigwv2.HttpMethod.GET),
    ("/openapi.json", apigwv2.HttpMethod.GET),
)
# One JSON object per request, from variables HTTP APIs support ("Customize HTTP API access
# logs"); the REST API helpers add ones such as $context.resourcePath, which an HTTP API stage
# refuses at deploy.
HTTP_API_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationLatency": "$context.integration.latency",
    "integrationErrorMessage": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
}
NONCURRENT_VERSION_DAYS = 90
ACCESS_LOG_DAYS = 365


# RetentionDays members carry names, not numbers; pair them with the days they stand for.
_RETENTION = dict(
    zip(
        LOG_RETENTION_DAYS,
        [m for m in logs.RetentionDays if m != logs.RetentionDays.INFINITE],
        strict=True,
    )
)


def _retention(days: int) -> logs.RetentionDays:
    return _RETENTION[days]


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


class PredictStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        layer_asset: Path,
        source_dir: Path | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        # Log delivery by bucket policy, not the legacy ACL, whatever cdk.json says.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)
        self.settings = settings
        self.model_bucket = self._model_bucket()
        layer = self._dependency_layer(layer_asset)
        self.function = self._predict_function(layer, source_dir or stage_predict_source())
        self.alias = self._live_alias()
        self.stage = self._http_api()
        self.release_functions, self.release_machine, self.guardrails = self._releases(layer)
        self.retraining = self._retraining(layer)
        self.guardrails.watch_rollouts_of(self.retraining.state_machine)

        CfnOutput(self, "ApiUrl", value=self.stage.url, description="Base URL of the HTTP API")
        CfnOutput(self, "PredictFunctionName", value=self.function.function_name)
        CfnOutput(self, "LiveAliasName", value=self.alias.alias_name)
        CfnOutput(self, "LiveAliasArn", value=self.alias.function_arn)
        CfnOutput(self, "ModelBucketName", value=self.model_bucket.bucket_name)
        CfnOutput(
            self,
            "ReleaseStateMachineArn",
            value=self.release_machine.state_machine.state_machine_arn,
            description="modelship rollout --state-machine (MODELSHIP_RELEASE_STATE_MACHINE)",
        )
        CfnOutput(
            self,
            "RetrainStateMachineArn",
            value=self.retraining.state_machine.state_machine_arn,
            description="modelship retrain --state-machine (MODELSHIP_RETRAIN_STATE_MACHINE)",
        )
        CfnOutput(
            self,
            "RetrainOutcomeTopicArn",
            value=self.retraining.topic.topic_arn,
            description="subscribe to get each retraining run's outcome",
        )

    def _retraining(self, layer: lambda_.ILayerVersion) -> RetrainingPipeline:
        """Retraining tasks, state machine (with its own copy of the canary chain), triggers."""
        options = RetrainingOptions.from_context(self.node)
        self._warn_on_short_bakes(options)
        return RetrainingPipeline(
            self,
            "RetrainingPipeline",
            options=options,
            model_name=self.settings.model_name,
            bucket=self.model_bucket,
            predict_function=self.function,
            alias=self.alias,
            release_function=self.release_functions.release_function,
            layer=layer,
            runtime=self._runtime(),
            architecture=self._architecture(),
            code=lambda_.Code.from_asset(str(stage_function_source(("retraining",)))),
            log_retention=_retention(self.settings.log_retention_days),
        )

    def _warn_on_short_bakes(self, options: RetrainingOptions) -> None:
        """A bake shorter than one alarm period plus CloudWatch's minute of delay ends before
        the guardrails have judged the step: the check after it sees OK for lack of data."""
        shortest = self.settings.guardrail_period_seconds + 60
        for step in options.release_plan:
            if step["bake_seconds"] < shortest:
                Annotations.of(self).add_warning_v2(
                    "modelship:short-bake",
                    f"context 'releasePlan' bakes {step['weight']:.0%} for "
                    f"{step['bake_seconds']:g} s, shorter than guardrailPeriodSeconds + 60 s "
                    f"({shortest} s): the guardrails cannot judge that step before the next",
                )

    def _releases(
        self, layer: lambda_.ILayerVersion
    ) -> tuple[ReleaseFunctions, ReleaseMachine, Guardrails]:
        """Release task and rollback functions, release state machine, guardrails."""
        settings = self.settings
        retention = _retention(settings.log_retention_days)
        functions = ReleaseFunctions(
            self,
            "Releases",
            function=self.function,
            alias=self.alias,
            bucket=self.model_bucket,
            layer=layer,
            runtime=self._runtime(),
            architecture=self._architecture(),
            error_rate_percent=settings.guardrail_error_rate_percent,
            p99_latency_ms=settings.guardrail_p99_latency_ms,
            guardrail_period_seconds=settings.guardrail_period_seconds,
            post_promotion_guard_seconds=settings.post_promotion_guard_seconds,
            log_retention=retention,
        )
        machine = ReleaseMachine(
            self,
            "ReleaseMachine",
            release_function=functions.release_function,
            timeout=Duration.hours(settings.release_timeout_hours),
            log_retention=retention,
        )
        guardrails = Guardrails(
            self,
            "Guardrails",
            function=self.function,
            alias=self.alias,
            rollback_function=functions.rollback_function,
            rollback_failures=functions.rollback_failures,
            release_machine=machine.state_machine,
            error_rate_percent=settings.guardrail_error_rate_percent,
            period_seconds=settings.guardrail_period_seconds,
            min_requests=settings.guardrail_min_requests,
            throttle_rate_percent=settings.guardrail_throttle_rate_percent,
        )
        return functions, machine, guardrails

    def _model_bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(ACCESS_LOG_DAYS))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            access_logs,
            "AwsSolutions-S1",
            "This bucket receives the model bucket's server access logs; logging it to "
            "itself would loop and to a third bucket only moves the finding.",
        )
        bucket = s3.Bucket(
            self,
            "ModelBucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="model-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-noncurrent-versions",
                    noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            # Model versions are the registry of record: deleting the stack keeps them.
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The native property, not `event_bridge_enabled`: that one adds a custom-resource
        # Lambda (with a managed-policy role) only to flip this switch.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )
        return bucket

    def _dependency_layer(self, layer_asset: Path) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            "DependencyLayer",
            code=lambda_.Code.from_asset(str(layer_asset)),
            compatible_runtimes=[self._runtime()],
            compatible_architectures=[self._architecture()],
            description=f"modelship predict dependencies ({self.settings.runtime}, "
            f"{self.settings.architecture})",
        )

    def _runtime(self) -> lambda_.Runtime:
        return lambda_.Runtime(
            self.settings.runtime, lambda_.RuntimeFamily.PYTHON, supports_snap_start=True
        )

    def _architecture(self) -> lambda_.Architecture:
        if self.settings.architecture == "arm64":
            return lambda_.Architecture.ARM_64
        return lambda_.Architecture.X86_64

    def _predict_role(self) -> iam.Role:
        settings = self.settings
        model_prefix = f"{names.MODELS_PREFIX}/{settings.model_name}/"
        role = iam.Role(
            self,
            "PredictRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"predict function: reads {model_prefix}* only",
        )
        grant_prefix_read(
            role,
            self.model_bucket,
            model_prefix,
            read_sid="ReadModelArtifacts",
            list_sid="ListModelVersions",
        )
        acknowledge(
            role,
            f"AwsSolutions-IAM5[Resource::<{self._logical_id(self.model_bucket)}.Arn>/"
            f"{model_prefix}*]",
            "Model versions are immutable objects under the model's own prefix; the wildcard "
            "covers versions published after deploy and nothing outside the prefix.",
        )
        return role

    def _logical_id(self, construct: Construct) -> str:
        child = construct.node.default_child
        assert child is not None
        return self.get_logical_id(child)  # type: ignore[arg-type]

    def _predict_function(self, layer: lambda_.ILayerVersion, source: Path) -> lambda_.Function:
        settings = self.settings
        log_group = logs.LogGroup(
            self,
            "PredictLogGroup",
            retention=_retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self._predict_role()
        log_group.grant_write(role)
        environment = {
            names.ENV_MODEL_BUCKET: self.model_bucket.bucket_name,
            names.ENV_MODEL_NAME: settings.model_name,
            names.ENV_MODEL_VERSION: settings.model_version,
            names.ENV_MODEL_SHA256: settings.model_sha256,
            names.ENV_MAX_ROWS: str(settings.max_rows),
            names.ENV_MAX_BODY_BYTES: str(settings.max_body_bytes),
            names.ENV_EPHEMERAL_STORAGE_MB: str(settings.ephemeral_storage_mb),
            names.ENV_MODEL_CACHE_DIR: names.DEFAULT_MODEL_CACHE_DIR,
            names.ENV_POWERTOOLS_SERVICE_NAME: names.PREDICT_SERVICE_NAME,
            names.ENV_POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            # Lets a release refuse a model pickled with another scikit-learn than the layer's.
            names.ENV_LAYER_SKLEARN_VERSION: pinned_version("scikit-learn"),
        }
        function = lambda_.Function(
            self,
            "PredictFunction",
            description=f"modelship predict ({settings.model_name})",
            code=lambda_.Code.from_asset(str(source)),
            handler=names.PREDICT_HANDLER,
            runtime=self._runtime(),
            architecture=self._architecture(),
            layers=[layer],
            role=role,
            memory_size=settings.memory_size,
            timeout=Duration.seconds(settings.timeout_seconds),
            ephemeral_storage_size=Size.mebibytes(settings.ephemeral_storage_mb),
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            snap_start=(
                lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if settings.snap_start else None
            ),
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions; "
            "this is the only statement on '*'.",
        )
        acknowledge(
            function,
            "AwsSolutions-L1",
            "The runtime is the context setting 'runtime', matched to the wheels in the "
            "dependency layer; newer runtimes are opt-in after rebuilding the layer.",
        )
        return function

    def _live_alias(self) -> lambda_.Alias:
        # A Version with a fixed logical id is published once, at the first deploy, and never
        # replaced by later code changes; so the alias resource never changes either, and a
        # redeploy leaves the routing that `modelship release` set on the alias untouched.
        bootstrap = lambda_.Version(
            self,
            "BootstrapVersion",
            lambda_=self.function,
            description="bootstrap: first deploy, no model pinned",
            removal_policy=RemovalPolicy.RETAIN,
        )
        return lambda_.Alias(
            self, "LiveAlias", alias_name=self.settings.alias_name, version=bootstrap
        )

    def _authorizer(self) -> apigwv2.IHttpRouteAuthorizer:
        settings = self.settings
        if settings.auth_mode == "iam":
            return authorizers.HttpIamAuthorizer()
        if settings.auth_mode == "jwt":
            return authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer",
                settings.jwt_issuer,
                jwt_audience=list(settings.jwt_audience),
            )
        return apigwv2.HttpNoneAuthorizer()

    def _http_api(self) -> apigwv2.HttpStage:
        settings = self.settings
        api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=settings.stack_name,
            description=f"modelship predict API ({settings.model_name})",
            create_default_stage=False,
            default_authorizer=self._authorizer(),
        )
        integration = integrations.HttpLambdaIntegration("PredictIntegration", self.alias)
        for path, method in ROUTES:
            for route in api.add_routes(path=path, methods=[method], integration=integration):
                if settings.auth_mode == "none":
                    acknowledge(
                        route,
                        "AwsSolutions-APIG4",
                        f"authMode=none: {settings.auth_none_reason}",
                    )
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogGroup",
            retention=_retention(settings.log_retention_days),
            removal_policy=RemovalPolicy.DESTROY,
        )
        return apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit,
                burst_limit=settings.throttle_burst_limit,
            ),
            access_log_settings=_AccessLogSettings(access_logs),
        )


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """IAccessLogSettings is a jsii interface, not a struct, so it needs an implementing class."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(HTTP_API_ACCESS_LOG_FIELDS))
