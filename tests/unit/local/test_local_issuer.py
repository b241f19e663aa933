"""The local issuer's tokens are validated as an HTTP API JWT authorizer validates them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from modelship.local.local_issuer import LocalIssuer, TokenRejected, _b64

ISSUER = "https://issuer.example.com"
AUDIENCE = ("modelship-api",)


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("state"))


def rejected(issuer: LocalIssuer, token: str, scopes: tuple[str, ...] = ()) -> TokenRejected:
    with pytest.raises(TokenRejected) as caught:
        issuer.validate(token, ISSUER, AUDIENCE, scopes)
    return caught.value


def test_a_minted_token_is_valid_and_its_claims_come_back(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "modelship-api", ["predict"])

    claims = issuer.validate(token, ISSUER, AUDIENCE, ("predict",))

    assert (claims["iss"], claims["aud"], claims["scope"]) == (ISSUER, "modelship-api", "predict")


def test_the_key_is_kept_in_the_state_dir_and_reloaded(tmp_path: Path) -> None:
    first = LocalIssuer.load_or_create(tmp_path)
    token = first.mint(ISSUER, "modelship-api")

    again = LocalIssuer.load_or_create(tmp_path)

    assert again.validate(token, ISSUER, AUDIENCE)["iss"] == ISSUER
    assert (tmp_path / "local-issuer" / "private-key.pem").stat().st_mode & 0o077 == 0


def test_the_jwks_publishes_the_public_key_under_the_tokens_kid(issuer: LocalIssuer) -> None:
    (key,) = issuer.jwks()["keys"]

    assert (key["kty"], key["alg"], key["kid"], key["e"]) == ("RSA", "RS256", issuer.kid, "AQAB")
    assert "d" not in key


def test_an_expired_token_is_rejected(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "modelship-api", now=time.time() - 7200)

    assert rejected(issuer, token).description == "the token has expired"


def test_a_token_not_yet_valid_is_rejected(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "modelship-api", now=time.time() + 600)

    assert rejected(issuer, token).description == "the token is not valid yet"


def test_another_issuer_is_rejected(issuer: LocalIssuer) -> None:
    token = issuer.mint("https://elsewhere.example.com", "modelship-api")

    assert rejected(issuer, token).description == "the token does not have a valid issuer"


def test_another_audience_is_rejected(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "another-api")

    assert rejected(issuer, token).description == "the token does not have a valid audience"


def test_client_id_stands_for_a_missing_aud_but_not_beside_one(issuer: LocalIssuer) -> None:
    assert issuer.validate(issuer.mint(ISSUER, None, client_id="modelship-api"), ISSUER, AUDIENCE)
    beside = issuer.mint(ISSUER, "another-api", client_id="modelship-api")

    assert rejected(issuer, beside).description == "the token does not have a valid audience"


def test_a_token_signed_by_another_key_is_rejected(tmp_path: Path, issuer: LocalIssuer) -> None:
    other = LocalIssuer.load_or_create(tmp_path)
    header, payload, _ = issuer.mint(ISSUER, "modelship-api").split(".")
    _, _, foreign = other.mint(ISSUER, "modelship-api").split(".")

    assert "verification error" in rejected(issuer, f"{header}.{payload}.{foreign}").description


def test_a_tampered_payload_is_rejected(issuer: LocalIssuer) -> None:
    header, _, signature = issuer.mint(ISSUER, "another-api").split(".")
    payload = _b64(json.dumps({"iss": ISSUER, "aud": "modelship-api", "exp": 2**40}).encode())

    assert "verification error" in rejected(issuer, f"{header}.{payload}.{signature}").description


def test_alg_none_is_rejected(issuer: LocalIssuer) -> None:
    header = _b64(json.dumps({"alg": "none", "kid": issuer.kid}).encode())
    payload = _b64(json.dumps({"iss": ISSUER, "aud": "modelship-api", "exp": 2**40}).encode())

    assert rejected(issuer, f"{header}.{payload}.").description == "signing method none is invalid"


def test_garbage_is_rejected(issuer: LocalIssuer) -> None:
    assert rejected(issuer, "not-a-token").description.startswith("token contains")


def test_a_token_without_one_of_the_routes_scopes_is_insufficient(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "modelship-api", ["read"])

    refusal = rejected(issuer, token, scopes=("predict", "admin"))

    assert refusal.insufficient_scope
    assert refusal.description == "expected scopes: [predict admin]"


def test_an_scp_list_grants_scopes_too(issuer: LocalIssuer) -> None:
    token = issuer.mint(ISSUER, "modelship-api", scp=["admin"])

    assert issuer.validate(token, ISSUER, AUDIENCE, ("predict", "admin"))["scp"] == ["admin"]
