"""The one HTTP API of a deployment: its stage, throttling and access logs, an authorizer per
auth setting, and each model's routes to that model's `live` alias.

The single-model routes (/predict, /health, /model/info, /openapi.json) belong to the default
model; every model, the default too, has /models/<name>/predict|health|info|openapi.json. A
model's routes live in that model's stack (its nested stack), each naming its authorizer, so
models with different auth modes share the API.
"""

from __future__ import annotations

import hashlib
import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra_cdk import nag
from infra_cdk.settings import Settings
from modelship import names

ROUTES: tuple[tuple[str, apigwv2.HttpMethod], ...] = (
    ("/predict", apigwv2.HttpMethod.POST),
    ("/health", apigwv2.HttpMethod.GET),
    ("/model/info", apigwv2.HttpMethod.GET),
    ("/openapi.json", apigwv2.HttpMethod.GET),
)
# Below /models/<name>; the handler answers the same four things there.
MODEL_ROUTES: tuple[tuple[str, apigwv2.HttpMethod], ...] = (
    ("/predict", apigwv2.HttpMethod.POST),
    ("/health", apigwv2.HttpMethod.GET),
    ("/info", apigwv2.HttpMethod.GET),
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


def model_routes(model_name: str) -> list[tuple[str, apigwv2.HttpMethod]]:
    prefix = names.model_routes_prefix(model_name)
    return [(f"{prefix}{path}", method) for path, method in MODEL_ROUTES]


class PredictApi(Construct):
    """`api` and its default `stage` (whose `url` is the API's). The API's default authorizer
    is the default model's; routes added for other models name their own."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        retention: logs.RetentionDays,
        model_count: int = 1,
    ) -> None:
        super().__init__(scope, construct_id)
        self._authorizers: dict[tuple[str, str, tuple[str, ...]], apigwv2.IHttpRouteAuthorizer] = {}
        described = (
            settings.model_name
            if model_count == 1
            else f"{model_count} models, default {settings.model_name}"
        )
        self.api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=settings.stack_name,
            description=f"modelship predict API ({described})",
            create_default_stage=False,
            default_authorizer=self.authorizer(settings),
        )
        access_logs = logs.LogGroup(
            self,
            "ApiAccessLogGroup",
            retention=retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=settings.throttle_rate_limit,
                burst_limit=settings.throttle_burst_limit,
            ),
            access_log_settings=_AccessLogSettings(access_logs),
        )

    def authorizer(self, settings: Settings) -> apigwv2.IHttpRouteAuthorizer:
        """One authorizer per auth setting: models with the same JWT issuer and audience share
        one (an HTTP API holds at most 10 authorizers)."""
        key = (settings.auth_mode, settings.jwt_issuer, settings.jwt_audience)
        if key not in self._authorizers:
            self._authorizers[key] = self._new_authorizer(settings, first=not self._authorizers)
        return self._authorizers[key]

    @staticmethod
    def _new_authorizer(settings: Settings, *, first: bool) -> apigwv2.IHttpRouteAuthorizer:
        if settings.auth_mode == "iam":
            return authorizers.HttpIamAuthorizer()
        if settings.auth_mode == "jwt":
            # The default model's keeps the id it always had; others are named by their
            # issuer and audience, so adding or removing a model renames none.
            digest = hashlib.sha256(
                json.dumps([settings.jwt_issuer, settings.jwt_audience]).encode()
            ).hexdigest()[:8]
            return authorizers.HttpJwtAuthorizer(
                "JwtAuthorizer" if first else f"JwtAuthorizer{digest}",
                settings.jwt_issuer,
                jwt_audience=list(settings.jwt_audience),
            )
        return apigwv2.HttpNoneAuthorizer()

    def add_default_routes(self, settings: Settings, alias: lambda_.IAlias) -> None:
        """The default model's routes, children of the API as they always were: the
        single-model ones, then /models/<name>/..., all under the API's default authorizer."""
        integration = integrations.HttpLambdaIntegration("PredictIntegration", alias)
        for path, method in [*ROUTES, *model_routes(settings.model_name)]:
            for route in self.api.add_routes(path=path, methods=[method], integration=integration):
                self._acknowledge(route, settings)

    def add_model_routes(
        self, scope: Construct, settings: Settings, alias: lambda_.IAlias
    ) -> list[apigwv2.HttpRoute]:
        """Another model's /models/<name>/... routes, created in `scope` (its stack)."""
        integration = integrations.HttpLambdaIntegration("PredictIntegration", alias)
        authorizer = self.authorizer(settings)
        routes = []
        for path, method in model_routes(settings.model_name):
            route = apigwv2.HttpRoute(
                scope,
                f"{method.value}{path.replace('/', '--')}",
                http_api=self.api,
                route_key=apigwv2.HttpRouteKey.with_(path, method),
                integration=integration,
                authorizer=authorizer,
            )
            self._acknowledge(route, settings)
            routes.append(route)
        return routes

    @staticmethod
    def _acknowledge(route: apigwv2.HttpRoute, settings: Settings) -> None:
        if settings.auth_mode == "none":
            nag.unauthorized_route(route, settings.auth_none_reason)


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
