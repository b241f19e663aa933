"""The gateway authorizes each route as the template says before invoking anything: AWS_IAM
routes need the emulator's SigV4 signature, JWT routes a token of the local issuer."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest

from modelship.api_client import ApiClient
from modelship.local.api_authorizers import ApiAuthorizers, RouteAuth, route_auth
from modelship.local.deployment import UnsupportedResource
from modelship.local.gateway import Gateway
from modelship.local.local_issuer import LocalIssuer
from modelship.local.sigv4_verifier import Credentials

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:app-ChurnPredict:live"
ISSUER = "https://issuer.example.com"
ROUTES = {
    "POST /predict": FUNCTION,
    "POST /jwt": FUNCTION,
    "GET /scoped": FUNCTION,
    "GET /open": FUNCTION,
}
AUTH = {
    ("POST", "/predict"): RouteAuth("AWS_IAM"),
    ("POST", "/jwt"): RouteAuth("JWT", ISSUER, ("modelship-api",)),
    ("GET", "/scoped"): RouteAuth("JWT", ISSUER, ("modelship-api",), ("predict",)),
    ("GET", "/open"): RouteAuth("NONE"),
}
EMULATOR = boto3.session.Session(
    aws_access_key_id="testing",
    aws_secret_access_key="testing",
    aws_session_token="testing",
    region_name="us-east-1",
)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("state"))


@pytest.fixture
def invoked() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def api(issuer: LocalIssuer, invoked: list[dict[str, Any]]) -> Iterator[str]:
    def function(target: str, event: dict[str, Any]) -> Any:
        invoked.append(event)
        return SimpleNamespace(payload={"statusCode": 200, "body": "{}"}, failed=False)

    known = {"testing": Credentials("testing", "testing", "testing")}
    authorizers = ApiAuthorizers(AUTH, known, "us-east-1", issuer)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = Gateway(
        function, ROUTES, "127.0.0.1", port, pages=authorizers.page, authorize=authorizers.check
    )
    gateway.start()
    yield gateway.url
    gateway.stop()


def test_an_unsigned_call_to_an_iam_route_is_403_and_invokes_nothing(
    api: str, invoked: list[dict[str, Any]]
) -> None:
    answer = ApiClient(api, sign=False).call("POST", "/predict", b"{}")

    assert (answer.status, answer.json()) == (403, {"message": "Forbidden"})
    assert answer.header("x-amzn-ErrorType") == "ForbiddenException"
    assert invoked == []


def test_a_call_signed_with_the_emulators_credentials_reaches_the_function(
    api: str, invoked: list[dict[str, Any]]
) -> None:
    client = ApiClient(api, session=EMULATOR)

    answer = client.call(
        "POST", "/predict?x=1", b'{"instances": []}', {"content-type": "application/json"}
    )

    assert answer.status == 200
    assert len(invoked) == 1


def test_a_query_with_reserved_characters_is_sent_as_it_was_signed(
    api: str, invoked: list[dict[str, Any]]
) -> None:
    # API Gateway checks the signature over the decoded and re-encoded query: a raw `,` or
    # `:` signed as given would be a 403.
    client = ApiClient(api, session=EMULATOR)

    answer = client.call("POST", "/predict?b=1,2&a=x:y z&flag", b"{}")

    assert answer.status == 200
    assert invoked[-1]["rawQueryString"] == "b=1%2C2&a=x%3Ay%20z&flag="


def test_a_call_signed_with_other_credentials_is_403(api: str) -> None:
    other = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name="us-east-1"
    )

    answer = ApiClient(api, session=other).call("POST", "/predict", b"{}")

    assert answer.status == 403
    assert answer.json() == {"message": "The security token included in the request is invalid."}


def test_a_jwt_route_without_a_token_is_401(api: str, invoked: list[dict[str, Any]]) -> None:
    answer = ApiClient(api, sign=False).call("POST", "/jwt", b"{}")

    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})
    assert invoked == []


def test_a_jwt_route_with_a_token_for_another_audience_is_401_saying_why(
    api: str, issuer: LocalIssuer
) -> None:
    token = issuer.mint(ISSUER, "another-api")

    answer = ApiClient(api, token=token).call("POST", "/jwt", b"{}")

    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})
    assert answer.header("www-authenticate") == (
        'Bearer scope="" error="invalid_token" '
        'error_description="the token does not have a valid audience"'
    )


def test_a_valid_token_reaches_the_function(
    api: str, issuer: LocalIssuer, invoked: list[dict[str, Any]]
) -> None:
    answer = ApiClient(api, token=issuer.mint(ISSUER, "modelship-api")).call("POST", "/jwt")

    assert answer.status == 200
    assert len(invoked) == 1


def test_a_token_without_the_routes_scope_is_403_insufficient_scope(
    api: str, issuer: LocalIssuer
) -> None:
    answer = ApiClient(api, token=issuer.mint(ISSUER, "modelship-api", ["read"])).call(
        "GET", "/scoped"
    )

    assert (answer.status, answer.json()) == (403, {"message": "Forbidden"})
    assert 'error="insufficient_scope"' in answer.header("www-authenticate")
    granted = ApiClient(api, token=issuer.mint(ISSUER, "modelship-api", ["predict"]))
    assert granted.call("GET", "/scoped").status == 200


def test_a_none_route_needs_nothing(api: str) -> None:
    assert ApiClient(api, sign=False).call("GET", "/open").status == 200


def test_the_jwks_is_published_under_local_pages(api: str, issuer: LocalIssuer) -> None:
    answer = ApiClient(api, sign=False).call("GET", "/_local/issuer/.well-known/jwks.json")

    assert answer.status == 200
    assert answer.json()["keys"][0]["kid"] == issuer.kid


def test_route_auth_reads_the_templates_jwt_authorizer() -> None:
    authorizers = {
        "auth-1": {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": ISSUER, "Audience": ["a", "b"]},
        }
    }
    route = {"AuthorizationType": "JWT", "AuthorizerId": "auth-1", "AuthorizationScopes": ["s"]}

    assert route_auth(route, authorizers) == RouteAuth("JWT", ISSUER, ("a", "b"), ("s",))
    assert route_auth({"AuthorizationType": "AWS_IAM"}, authorizers).kind == "AWS_IAM"
    assert route_auth({}, authorizers).kind == "NONE"
    with pytest.raises(UnsupportedResource, match="CUSTOM is not emulated"):
        route_auth({"AuthorizationType": "CUSTOM"}, authorizers)
