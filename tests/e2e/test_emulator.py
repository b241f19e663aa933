"""The local emulator end to end: HTTP through the alias's weights, rollback, a broken
candidate rolled back by its own alarm, and the AWS CLI seeing what modelship sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import ReadOnlyCredentials

from modelship.api_client import ApiClient, call
from modelship.cli import main
from modelship.local.activity import read_activity
from modelship.releases.rollback import rollback
from modelship.sample_events import load_event
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e
BODY = str(load_event("predict_valid")["body"]).encode()


def post(api_url: str, path: str = "/predict", body: bytes = BODY) -> tuple[int, str]:
    """(status, X-Model-Version) of one signed request."""
    answer = call(api_url, "POST", path, body, {"content-type": "application/json"})
    return answer.status, answer.header("X-Model-Version")


def traffic(api_url: str, requests: int) -> Counter[tuple[int, str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return Counter(pool.map(lambda _: post(api_url), range(requests)))


def test_predict_over_http_answers_200_with_the_model_version(local: Local) -> None:
    assert post(local.api_url) == (200, "v1")
    # Only the template's routes exist.
    assert post(local.api_url, "/nowhere")[0] == 404


def test_an_unsigned_call_to_an_iam_route_is_refused_as_api_gateway_refuses_it(
    local: Local,
) -> None:
    unsigned = ApiClient(local.api_url, sign=False).call("POST", "/predict", BODY)
    other_secret = ReadOnlyCredentials("testing", "not-the-secret", "testing")
    mis_signed = ApiClient(local.api_url, credentials=other_secret, region="us-east-1")

    assert (unsigned.status, unsigned.json()) == (403, {"message": "Forbidden"})
    answer = mis_signed.call("POST", "/predict", BODY)
    assert answer.status == 403
    assert answer.json()["message"].startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    assert post(local.api_url) == (200, "v1")


def test_invoke_url_signs_its_request_and_gets_200(
    local: Local, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["invoke", "--event", "predict_valid", "--url", local.api_url, "--output", "json"]

    assert main(argv) == 0

    answer = json.loads(capsys.readouterr().out)
    assert (answer["statusCode"], answer["body"]["model_version"]) == (200, "v1")


def test_weighted_routing_sends_the_candidate_its_share_and_rollback_stops_it(
    local: Local, reference_model_dir: Path
) -> None:
    # Given a healthy candidate at 20% of live
    local.publish(reference_model_dir, "v2-routing")
    candidate = local.released("v2-routing")
    releases = local.releases()
    releases.start_canary(0.2, candidate=candidate, reason="e2e routing")
    post(local.api_url)  # cold starts are not what this test measures

    # When 1000 requests arrive
    seen = traffic(local.api_url, 1000)

    # Then about 20% reach it (binomial: 5 points is more than 3 standard deviations)
    assert {status for status, _ in seen} == {200}
    share = sum(n for (_, version), n in seen.items() if version == "v2-routing") / 1000
    assert 0.15 <= share <= 0.25, seen
    assert releases.alias_state().candidate == candidate

    # And after a rollback no request reaches it
    rollback(releases, reason="e2e routing done")
    after = traffic(local.api_url, 200)
    assert after == Counter({(200, "v1"): 200})


def test_broken_candidate_is_rolled_back_by_its_alarm(
    local: Local, reference_model_dir: Path
) -> None:
    # Given a candidate whose artifact was corrupted in S3 after its release
    local.publish(reference_model_dir, "v3-broken")
    candidate = local.released("v3-broken")
    local.client("s3").put_object(
        Bucket=local.environment["MODELSHIP_BUCKET"],
        Key="models/churn/v3-broken/model.joblib",
        Body=b"not a model",
    )
    releases = local.releases()
    # 5%: its own alarm trips (100% errors, at least two in a period; under compressed time a
    # period sees few requests); the function-wide one (5%) may too, attributed to the canary.
    releases.start_canary(0.05, candidate=candidate, reason="e2e broken")

    # When traffic flows (until the rollback, or a generous deadline)
    seen: Counter[tuple[int, str]] = Counter()
    deadline = time.monotonic() + 120
    while releases.alias_state().candidate is not None and time.monotonic() < deadline:
        seen += traffic(local.api_url, 20)

    # Then the candidate answered 5xx, its alarm fired, and the rollback function cleared it
    assert releases.alias_state().candidate is None, (seen, read_activity(local.state_dir)[-20:])
    assert releases.alias_state().stable != candidate
    assert any(status == 503 and version == "v3-broken" for status, version in seen), seen
    assert all(status == 200 for status, version in seen if version != "v3-broken"), seen
    # The alias is cleared inside the rollback handler; the emulator logs the delivery just
    # after it returns, so give the activity log a moment to catch up.
    handled: list[dict[str, Any]] = []
    log_deadline = time.monotonic() + 10
    while not handled and time.monotonic() < log_deadline:
        handled = [
            a
            for a in read_activity(local.state_dir)
            if a["kind"] == "event-handled"
            and (a.get("result") or {}).get("changed")
            and "rollback" in a["target"].lower()
        ]
        time.sleep(0.1)
    assert handled
    alarms = [
        a
        for a in read_activity(local.state_dir)
        if a["kind"] == "alarm-state-change" and a["to"] == "ALARM"
    ]
    assert alarms
    last = releases.history.records()[-1]
    assert last.action == "rollback"
    assert last.alarm is not None
    # Its own alarm, or the function-wide error rate when the few canary requests in a
    # period happen to push it over 5% first: either guardrail may clear the canary.
    assert last.alarm.startswith("modelship-guardrail-")
    assert any(a["alarm"] == last.alarm for a in alarms), alarms
    assert traffic(local.api_url, 50) == Counter({(200, "v1"): 50})


def test_aws_cli_get_alias_agrees_with_modelship_status(
    local: Local, reference_model_dir: Path
) -> None:
    # The AWS CLI is a pinned dev dependency, installed beside this interpreter.
    aws = str(Path(sys.executable).parent / "aws")
    assert Path(aws).is_file(), "the AWS CLI is missing from the venv: run `make install`"
    local.publish(reference_model_dir, "v4-cli")
    candidate = local.released("v4-cli")
    local.releases().start_canary(0.1, candidate=candidate, reason="e2e cli")
    env = {**os.environ, **local.environment}
    try:
        alias = _json(
            [
                aws,
                "lambda",
                "get-alias",
                "--function-name",
                env["MODELSHIP_FUNCTION"],
                "--name",
                env["MODELSHIP_ALIAS"],
            ],
            env,
        )
        # local up exports MODELSHIP_STACK: without --model, status lists every model.
        status = _json(
            [sys.executable, "-m", "modelship", "status", "--model", "churn", "--output", "json"],
            env,
        )
    finally:
        rollback(local.releases(), reason="e2e cli done")

    weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
    assert alias["FunctionVersion"] == status["stable"]["version"]
    assert weights == {status["candidate"]["version"]: status["candidate_weight"]}
    assert weights == {candidate: 0.1}


def _json(command: list[str], env: dict[str, str]) -> Any:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
