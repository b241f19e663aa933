"""The predict service: function, `live` alias, and the HTTP API in front of the alias with
its authorizer, throttling and access logs."""

from __future__ import annotations

import json

import jsii
from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk import nag
from infra_cdk.bucket_access import grant_prefix_read
from infra_cdk.layer_recipe import pinned_version
from infra_cdk.settings import Settings
from infra_cdk.task_function import FunctionBase
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


class PredictService(Construct):
    """`function` serves one model; `alias` is what the API invokes and what releases route;
    `stage` is the API's default stage (its `url` is the API's)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        base: FunctionBase,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.bucket = bucket
        self.function = self._function(base)
        self.alias = self._live_alias()
        self.stage = self._http_api(base.log_retention)

    def _role(self) -> iam.Role:
        model_prefix = f"{names.MODELS_PREFIX}/{self.settings.model_name}/"
        role = iam.Role(
            self,
            "PredictRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"predict function: reads {model_prefix}* only",
        )
        grant_prefix_read(
            role,
            self.bucket,
            model_prefix,
            read_sid="ReadModelArtifacts",
            list_sid="ListModelVersions",
        )
        nag.predict_role(role, self.bucket, model_prefix)
        return role

    def _function(self, base: FunctionBase) -> lambda_.Function:
        settings = self.settings
        log_group = logs.LogGroup(
            self,
            "PredictLogGroup",
            retention=base.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self._role()
        log_group.grant_write(role)
        environment = {
            names.ENV_MODEL_BUCKET: self.bucket.bucket_name,
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
            code=base.code,
            handler=names.PREDICT_HANDLER,
            runtime=base.runtime,
            architecture=base.architecture,
            layers=[base.layer],
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
        nag.predict_function(function, role)
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

    def _http_api(self, retention: logs.RetentionDays) -> apigwv2.HttpStage:
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
                    nag.unauthorized_route(route, settings.auth_none_reason)
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogGroup",
            retention=retention,
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
