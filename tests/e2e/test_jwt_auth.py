"""A deployment synthesized with authMode=jwt on the emulator: its JWT routes answer 401 without
a token and serve a token of the emulator's local issuer, which stands in for the https
issuer the template names (unreachable offline)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelship.api_client import ApiClient
from modelship.cli import main
from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import IAM_FILE
from modelship.local.local_issuer import mint_local_token
from modelship.sample_events import load_event
from tests.e2e.conftest import emulator_config, synth
from tests.iam_report import RECORDED

pytestmark = pytest.mark.e2e
ISSUER = "https://issuer.example.com/pool"
AUDIENCE = "modelship-api"
BODY = str(load_event("predict_valid")["body"]).encode()
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def jwt_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(API URL, state dir) of an emulator serving the seeded model behind a JWT authorizer."""
    work = tmp_path_factory.mktemp("jwt")
    context = {"authMode": "jwt", "jwtIssuer": ISSUER, "jwtAudience": AUDIENCE}
    cdk_out = synth(work / "synth" / "cdk.out", context)
    config = emulator_config(work, cdk_out)
    config = dataclasses.replace(config, seed_model=True)
    state = start_detached(config)
    try:
        yield state["endpoints"]["api_url"], config.state_dir
    finally:
        stop_detached(config.state_dir)
        RECORDED.add_emulator(config.state_dir / IAM_FILE)


def test_without_a_token_a_jwt_route_is_401_unauthorized(jwt_api: tuple[str, Path]) -> None:
    api_url, _ = jwt_api

    answer = ApiClient(api_url, sign=False).call("POST", "/predict", BODY, JSON)

    assert (answer.status, answer.json()) == (401, {"message": "Unauthorized"})


def test_a_sigv4_signature_is_no_token(jwt_api: tuple[str, Path]) -> None:
    api_url, _ = jwt_api

    assert ApiClient(api_url).call("POST", "/predict", BODY, JSON).status == 401


def test_a_token_of_the_local_issuer_is_served(jwt_api: tuple[str, Path]) -> None:
    api_url, state_dir = jwt_api
    token, claims = mint_local_token(state_dir)

    answer = ApiClient(api_url, token=token).call("POST", "/predict", BODY, JSON)

    assert claims == {"issuer": ISSUER, "audience": AUDIENCE, "scopes": []}
    assert answer.status == 200, answer.body
    assert answer.json()["model_version"] == "v0"


def test_a_token_for_another_audience_is_401_saying_why(jwt_api: tuple[str, Path]) -> None:
    api_url, state_dir = jwt_api
    token, _ = mint_local_token(state_dir, audience="another-api")

    answer = ApiClient(api_url, token=token).call("GET", "/health")

    assert answer.status == 401
    assert "the token does not have a valid audience" in answer.header("www-authenticate")


def test_the_jwks_is_published_and_the_cli_mints_a_token_invoke_sends(
    jwt_api: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    api_url, state_dir = jwt_api
    jwks = ApiClient(api_url, sign=False).call("GET", "/_local/issuer/.well-known/jwks.json")
    assert jwks.status == 200
    assert jwks.json()["keys"][0]["alg"] == "RS256"

    assert main(["local", "token", "--state-dir", str(state_dir), "--output", "json"]) == 0
    minted: dict[str, Any] = json.loads(capsys.readouterr().out)
    argv = ["invoke", "--event", "predict_valid", "--url", api_url, "--output", "json"]
    assert main([*argv, "--token", minted["token"]]) == 0

    answer = json.loads(capsys.readouterr().out)
    assert (minted["issuer"], minted["audience"]) == (ISSUER, AUDIENCE)
    assert answer["statusCode"] == 200
