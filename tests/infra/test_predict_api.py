"""The HTTP API reaches the function only through the `live` alias, with auth and throttling."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from infra_cdk.settings import SettingsError
from tests.infra.template_queries import Synth, logical_id, logical_id_starting, only


def test_integration_targets_the_alias_not_latest(template: Template) -> None:
    alias_id = logical_id(template, "AWS::Lambda::Alias")
    _, integration = only(template, "AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"


def test_invoke_permissions_are_scoped_to_the_alias(template: Template) -> None:
    alias_id = logical_id(template, "AWS::Lambda::Alias")
    # The API's permissions (the release rules' permissions target the rollback function).
    permissions = template.find_resources(
        "AWS::Lambda::Permission", {"Properties": {"Principal": "apigateway.amazonaws.com"}}
    )
    assert permissions
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == {"Ref": alias_id}
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"


def test_alias_is_named_from_context_and_points_at_the_bootstrap_version(synth: Synth) -> None:
    template = synth(aliasName="prod")
    version_id = logical_id(template, "AWS::Lambda::Version")
    _, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "prod"
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    # CDK-managed weights would be reset by every deploy; releases own them.
    assert "RoutingConfig" not in alias["Properties"]


def test_bootstrap_version_id_is_stable_across_code_changes(template: Template) -> None:
    # current_version would hash the code into the logical id and move the alias on deploy.
    assert logical_id(template, "AWS::Lambda::Version").startswith("BootstrapVersion")


def test_default_alias_name_is_live(template: Template) -> None:
    _, alias = only(template, "AWS::Lambda::Alias")
    assert alias["Properties"]["Name"] == "live"


def test_routes_exist_with_iam_auth_by_default(template: Template) -> None:
    routes = template.find_resources("AWS::ApiGatewayV2::Route")
    keys = {route["Properties"]["RouteKey"] for route in routes.values()}
    assert keys == {
        "POST /predict",
        "GET /health",
        "GET /model/info",
        "GET /openapi.json",
        # The default model's routes under its name, as every model of a deployment has them.
        "POST /models/churn/predict",
        "GET /models/churn/health",
        "GET /models/churn/info",
        "GET /models/churn/openapi.json",
    }
    for route in routes.values():
        assert route["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_stage_throttling_and_access_logs(synth: Synth) -> None:
    template = synth(throttleRateLimit=25, throttleBurstLimit=40)
    log_group_id = logical_id_starting(template, "AWS::Logs::LogGroup", "ApiAccessLogGroup")
    template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage",
        {
            "StageName": "$default",
            "AutoDeploy": True,
            "DefaultRouteSettings": {"ThrottlingRateLimit": 25, "ThrottlingBurstLimit": 40},
            "AccessLogSettings": {
                "DestinationArn": {"Fn::GetAtt": [log_group_id, "Arn"]},
                "Format": Match.string_like_regexp(r"requestId"),
            },
        },
    )


# "Customize HTTP API access logs" (API Gateway developer guide): the variables an HTTP API
# stage accepts in its access-log format. REST-only ones (resourcePath, identity.user,
# identity.caller, ...) make CreateStage fail with "context variables are not supported".
HTTP_API_LOG_VARIABLES = {
    "$context.requestId",
    "$context.identity.sourceIp",
    "$context.requestTime",
    "$context.httpMethod",
    "$context.routeKey",
    "$context.status",
    "$context.protocol",
    "$context.responseLength",
    "$context.responseLatency",
    "$context.integration.status",
    "$context.integration.latency",
    "$context.integrationErrorMessage",
    "$context.authorizer.error",
}


def test_access_log_format_is_json_of_http_api_variables_only(template: Template) -> None:
    _, stage = only(template, "AWS::ApiGatewayV2::Stage")
    fields = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])

    used = set(fields.values())
    assert used <= HTTP_API_LOG_VARIABLES, used - HTTP_API_LOG_VARIABLES
    assert {"$context.requestId", "$context.routeKey", "$context.status"} <= used
    assert "$context.integrationErrorMessage" in used


def test_jwt_mode_uses_a_jwt_authorizer(synth: Synth) -> None:
    template = synth(
        authMode="jwt", jwtIssuer="https://issuer.example.com/", jwtAudience="api-a,api-b"
    )
    authorizer_id, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": "https://issuer.example.com/",
        "Audience": ["api-a", "api-b"],
    }
    for route in template.find_resources("AWS::ApiGatewayV2::Route").values():
        assert route["Properties"]["AuthorizationType"] == "JWT"
        assert route["Properties"]["AuthorizerId"] == {"Ref": authorizer_id}


def test_none_mode_with_a_reason_leaves_routes_open(synth: Synth) -> None:
    template = synth(authMode="none", authNoneReason="behind a private VPN gateway")
    for route in template.find_resources("AWS::ApiGatewayV2::Route").values():
        assert route["Properties"].get("AuthorizationType", "NONE") == "NONE"


def test_none_mode_without_a_reason_is_refused(synth: Synth) -> None:
    with pytest.raises(SettingsError, match="authNoneReason"):
        synth(authMode="none")


def test_jwt_mode_without_issuer_is_refused(synth: Synth) -> None:
    with pytest.raises(SettingsError, match="jwtIssuer"):
        synth(authMode="jwt", jwtAudience="api")


def test_outputs_name_what_operators_need(template: Template) -> None:
    outputs = template.find_outputs("*")
    assert {
        "ApiUrl",
        "PredictFunctionName",
        "LiveAliasName",
        "LiveAliasArn",
        "ModelBucketName",
    } <= set(outputs)
