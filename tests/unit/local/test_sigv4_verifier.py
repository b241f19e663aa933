"""The gateway's SigV4 check accepts what botocore signs for execute-api with the emulator's
credentials and refuses, with API Gateway's 403 answers, everything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

from modelship.api_signing import signed_headers
from modelship.local.sigv4_verifier import Credentials, Refusal, canonical_query, verify

URL = "http://127.0.0.1:3000/predict?b=2&a=1"
BODY = b'{"instances": [{"tenure": 3}]}'
KNOWN = {"testing": Credentials("testing", "testing", "testing")}
EMULATOR = ReadOnlyCredentials("testing", "testing", "testing")


def signed(
    credentials: ReadOnlyCredentials = EMULATOR,
    region: str = "us-east-1",
    url: str = URL,
    body: bytes = BODY,
) -> dict[str, str]:
    return signed_headers(
        "POST", url, body, {"content-type": "application/json"}, credentials, region
    )


def check(
    headers: dict[str, str],
    url: str = URL,
    body: bytes = BODY,
    method: str = "POST",
    now: datetime | None = None,
) -> Refusal | None:
    parts = urlsplit(url)
    sent = [("Host", parts.netloc), *headers.items()]
    return verify(method, parts.path, parts.query, sent, body, KNOWN, "us-east-1", now)


def message(refusal: Refusal | None) -> str:
    assert refusal is not None
    status, headers, body = refusal.answer()
    assert status == 403
    assert headers["x-amzn-ErrorType"] == refusal.error_type
    text: str = json.loads(body)["message"]
    return text


def test_a_request_botocore_signed_with_the_emulators_credentials_passes() -> None:
    assert check(signed()) is None


def test_an_unsigned_request_is_forbidden() -> None:
    refusal = check({"content-type": "application/json"})

    assert message(refusal) == "Forbidden"
    assert getattr(refusal, "error_type", None) == "ForbiddenException"


def test_a_bearer_token_on_an_iam_route_names_the_missing_signature_parts() -> None:
    refusal = check({"Authorization": "Bearer abc"})

    assert "Authorization header requires 'Credential' parameter" in message(refusal)
    assert getattr(refusal, "error_type", None) == "IncompleteSignatureException"


def test_a_signature_without_its_date_header_is_incomplete() -> None:
    headers = {k: v for k, v in signed().items() if k.lower() != "x-amz-date"}

    assert "'X-Amz-Date' or a 'Date' header" in message(check(headers))


def test_an_unknown_access_key_is_an_invalid_security_token() -> None:
    refusal = check(signed(ReadOnlyCredentials("AKIDEXAMPLE", "testing", "testing")))

    assert message(refusal) == "The security token included in the request is invalid."
    assert getattr(refusal, "error_type", None) == "UnrecognizedClientException"


def test_a_signature_without_the_session_token_is_an_invalid_security_token() -> None:
    assert message(check(signed(ReadOnlyCredentials("testing", "testing", None)))) == (
        "The security token included in the request is invalid."
    )


def test_a_wrong_secret_does_not_match_and_the_answer_shows_the_canonical_request() -> None:
    refusal = check(signed(ReadOnlyCredentials("testing", "wrong", "testing")))

    text = message(refusal)
    assert text.startswith("The request signature we calculated does not match")
    assert "'POST\n/predict\na=1&b=2\n" in text
    assert getattr(refusal, "error_type", None) == "InvalidSignatureException"


def test_a_tampered_body_does_not_match() -> None:
    text = message(check(signed(), body=BODY.replace(b"3", b"4")))

    assert text.startswith("The request signature we calculated does not match")


@pytest.mark.parametrize(
    "sent",
    [
        "http://127.0.0.1:3000/models/churn/predict?b=2&a=1",
        "http://127.0.0.1:3000/predict?b=2&a=2",
        "http://127.0.0.1:3000/predict?b=2",
        "http://127.0.0.1:3001/predict?b=2&a=1",
    ],
)
def test_a_tampered_path_query_or_host_does_not_match(sent: str) -> None:
    assert message(check(signed(), url=sent)).startswith("The request signature we calculated")


def test_another_method_does_not_match() -> None:
    assert message(check(signed(), method="PUT")).startswith("The request signature")


def test_a_signature_older_than_five_minutes_has_expired() -> None:
    later = datetime.now(UTC) + timedelta(minutes=6)

    assert message(check(signed(), now=later)).startswith("Signature expired: ")


def test_a_signature_within_five_minutes_is_current() -> None:
    assert check(signed(), now=datetime.now(UTC) + timedelta(minutes=4)) is None


def test_a_signature_from_more_than_five_minutes_ahead_is_not_yet_current() -> None:
    earlier = datetime.now(UTC) - timedelta(minutes=6)

    assert message(check(signed(), now=earlier)).startswith("Signature not yet current: ")


def test_another_region_is_refused() -> None:
    assert message(check(signed(region="eu-west-1"))) == (
        "Credential should be scoped to a valid region, not 'eu-west-1'. "
    )


def test_another_service_is_refused() -> None:
    request = AWSRequest(method="POST", url=URL, data=BODY, headers={})
    from botocore.auth import SigV4Auth

    SigV4Auth(EMULATOR, "lambda", "us-east-1").add_auth(request)

    assert message(check(dict(request.headers.items()))) == (
        "Credential should be scoped to correct service: 'execute-api'. "
    )


def test_a_presigned_url_passes_and_a_tampered_one_does_not() -> None:
    request = AWSRequest(method="GET", url="http://127.0.0.1:3000/health?x=1", headers={})
    SigV4QueryAuth(EMULATOR, "execute-api", "us-east-1", expires=60).add_auth(request)

    assert check({}, url=request.url, body=b"", method="GET") is None
    assert check({}, url=request.url.replace("x=1", "x=2"), body=b"", method="GET") is not None
    expired = datetime.now(UTC) + timedelta(seconds=120)
    assert message(check({}, url=request.url, body=b"", method="GET", now=expired)).startswith(
        "Signature expired"
    )


def test_the_canonical_query_sorts_and_encodes_as_aws_does() -> None:
    assert canonical_query([("b", "x y"), ("a", "2"), ("a", "1")]) == "a=1&a=2&b=x%20y"
