"""The HTTP API's authorizers, per route, as the template declares them: `AWS_IAM` routes need
a SigV4 signature by the emulator's credentials (modelship.local.sigv4_verifier), `JWT` routes
a token of the local issuer for the route authorizer's issuer and audience
(modelship.local.local_issuer), `NONE` routes nothing. The gateway asks before it throttles
or invokes anything, as API Gateway does.

A JWT refusal is a 401 `{"message":"Unauthorized"}` with a `www-authenticate` header saying
why ("Troubleshooting issues with HTTP API JWT authorizers"); a token without one of the
route's scopes is a 403 `{"message":"Forbidden"}` with error="insufficient_scope" (RFC 6750
section 3.1). The local issuer's keys are published at /_local/issuer/.well-known/jwks.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.dashboard import Answer
from modelship.local.deployment import REGION, Deployment, UnsupportedResource
from modelship.local.endpoints import FAKE_CREDENTIALS
from modelship.local.local_issuer import LocalIssuer, TokenRejected, write_authorizers
from modelship.local.sigv4_verifier import Credentials, verify

ISSUER_PREFIX = "/_local/issuer"
JWKS_PATH = f"{ISSUER_PREFIX}/.well-known/jwks.json"
# An HTTP API answer: status, headers, body.
Refused = tuple[int, dict[str, str], bytes]
_UNAUTHORIZED = b'{"message":"Unauthorized"}'
_FORBIDDEN = b'{"message":"Forbidden"}'
_DEFAULT_IDENTITY_SOURCE = "$request.header.Authorization"


@dataclass(frozen=True)
class RouteAuth:
    """How one route is authorized: its AuthorizationType and, for JWT, its authorizer."""

    kind: str  # AWS_IAM, JWT, NONE (CUSTOM is refused at deploy)
    issuer: str = ""
    audiences: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    identity_header: str = "authorization"


def route_auth(route: Mapping[str, Any], authorizers: Mapping[str, Mapping[str, Any]]) -> RouteAuth:
    """A route's auth from its resolved Route properties and the Authorizers (by Ref)."""
    kind = str(route.get("AuthorizationType") or "NONE")
    if kind in {"NONE", "AWS_IAM"}:
        return RouteAuth(kind)
    if kind != "JWT":
        raise UnsupportedResource(
            f"authorization type {kind} is not emulated (AWS_IAM, JWT and NONE are)"
        )
    authorizer = authorizers.get(str(route.get("AuthorizerId")))
    if authorizer is None:
        raise UnsupportedResource(
            f"the route's AuthorizerId {route.get('AuthorizerId')} names no authorizer"
        )
    config = authorizer.get("JwtConfiguration") or {}
    sources = authorizer.get("IdentitySource") or [_DEFAULT_IDENTITY_SOURCE]
    source = str(sources[0])
    if not source.lower().startswith("$request.header."):
        raise UnsupportedResource(f"JWT identity source {source} is not emulated (a header is)")
    return RouteAuth(
        "JWT",
        issuer=str(config.get("Issuer") or ""),
        audiences=tuple(str(a) for a in config.get("Audience") or []),
        scopes=tuple(str(s) for s in route.get("AuthorizationScopes") or []),
        identity_header=source[len("$request.header.") :].lower(),
    )


@dataclass
class ApiAuthorizers:
    """The routes' auth ((method, path) -> RouteAuth), the keys the emulator hands out, the
    region the API is in, and the local token issuer."""

    routes: dict[tuple[str, str], RouteAuth]
    credentials: Mapping[str, Credentials]
    region: str
    issuer: LocalIssuer
    now: Any = field(default=None)  # a clock for tests: () -> datetime

    def jwt_authorizers(self) -> list[dict[str, Any]]:
        """Each distinct (issuer, audience) of the JWT routes."""
        seen = {(r.issuer, r.audiences) for r in self.routes.values() if r.kind == "JWT"}
        return [{"issuer": i, "audience": list(a)} for i, a in sorted(seen)]

    def check(
        self, method: str, path: str, query: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Refused | None:
        """None when the request may go on to the integration; else API Gateway's answer."""
        auth = self.routes.get((method, path))
        if auth is None or auth.kind == "NONE":
            return None
        headers = list(headers)
        if auth.kind == "AWS_IAM":
            now = self.now() if self.now else None
            refusal = verify(method, path, query, headers, body, self.credentials, self.region, now)
            return None if refusal is None else refusal.answer()
        return self._check_jwt(auth, headers)

    def _check_jwt(self, auth: RouteAuth, headers: list[tuple[str, str]]) -> Refused | None:
        values = [v for k, v in headers if k.lower() == auth.identity_header]
        if not values or not values[0].strip():
            return (
                401,
                {"content-type": "application/json", "www-authenticate": "Bearer"},
                (_UNAUTHORIZED),
            )
        token = values[0].strip()
        if token[:7].lower() == "bearer ":
            token = token[7:].strip()
        now = self.now().timestamp() if self.now else None
        try:
            self.issuer.validate(token, auth.issuer, auth.audiences, auth.scopes, now)
        except TokenRejected as rejected:
            scope = " ".join(auth.scopes) if rejected.insufficient_scope else ""
            error = "insufficient_scope" if rejected.insufficient_scope else "invalid_token"
            challenge = (
                f'Bearer scope="{scope}" error="{error}" error_description="{rejected.description}"'
            )
            headers_out = {"content-type": "application/json", "www-authenticate": challenge}
            if rejected.insufficient_scope:
                return 403, headers_out, _FORBIDDEN
            return 401, headers_out, _UNAUTHORIZED
        return None

    def page(self, method: str, path: str, query: str) -> Answer | None:
        """The local issuer's JWKS and OpenID discovery document; None elsewhere."""
        if not path.startswith(ISSUER_PREFIX):
            return None
        if method not in {"GET", "HEAD"}:
            return Answer(405, "application/json", b'{"message":"Method Not Allowed"}')
        if path == JWKS_PATH:
            return Answer(200, "application/json", json.dumps(self.issuer.jwks()).encode())
        if path == f"{ISSUER_PREFIX}/.well-known/openid-configuration":
            document = {
                "jwks_uri": JWKS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "stands_in_for": [a["issuer"] for a in self.jwt_authorizers()],
            }
            return Answer(200, "application/json", json.dumps(document).encode())
        return Answer(404, "application/json", b'{"message":"Not Found"}')


def deployment_authorizers(deployment: Deployment, state_dir: Path) -> ApiAuthorizers:
    """The authorizers of a provisioned deployment, checking signatures of the credentials
    the emulator hands out (FAKE_CREDENTIALS) and tokens of the issuer kept in `state_dir`;
    the JWT authorizers are written there for `modelship local token`."""
    routes = {}
    for key, properties in deployment.route_auth.items():
        method, _, path = key.partition(" ")
        routes[(method.upper(), path)] = route_auth(properties, deployment.authorizers)
    known = {
        FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]: Credentials(
            FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        )
    }
    authorizers = ApiAuthorizers(routes, known, REGION, LocalIssuer.load_or_create(state_dir))
    write_authorizers(state_dir, authorizers.jwt_authorizers())
    return authorizers
