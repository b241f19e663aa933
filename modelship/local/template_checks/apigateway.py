"""API Gateway HTTP APIs: the access log format's variables and size, and one route per
route key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

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


def _stage(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
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


def _route(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    # CreateRoute answers ConflictException for a route key the API already has (many models'
    # routes on one API, from several nested stacks, must not meet).
    api = json.dumps(props.get("ApiId"), sort_keys=True)
    same = sorted(
        other
        for other, resource in ctx.resources.items()
        if other != logical
        and resource.get("Type") == "AWS::ApiGatewayV2::Route"
        and (resource.get("Properties") or {}).get("RouteKey") == props.get("RouteKey")
        and json.dumps((resource.get("Properties") or {}).get("ApiId"), sort_keys=True) == api
    )
    if same and logical < same[0]:
        ctx.refuse(
            "http-api-route-key-unique",
            logical,
            "RouteKey",
            props.get("RouteKey"),
            f"{', '.join(same)} has the same route key on the same API (ConflictException)",
        )


RULES: dict[str, Rule] = {"AWS::ApiGatewayV2::Stage": _stage, "AWS::ApiGatewayV2::Route": _route}
