"""The shadow commands on the emulator: `shadow start` makes the stable version mirror its
requests to the shadow version, `shadow status` reports the shadow's agreement while every
user answer comes from stable, `shadow stop` keeps the report, and `shadow promote` turns a
shadow into a canary. (tests/e2e/test_shadow_release.py follows the mirrors themselves.)"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelship import names
from modelship.cli import main
from modelship.errors import NoShadow
from modelship.releases.rollback import rollback
from modelship.releases.shadow import stop_shadow
from modelship.sample_events import load_event
from tests.e2e.conftest import Local
from tests.e2e.test_emulator import post

pytestmark = pytest.mark.e2e
MODEL = ["--model", "churn"]


@pytest.fixture
def cli(local: Local, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """`modelship ... --output json` in this process against the emulator; the parsed answer."""
    for key, value in local.environment.items():
        monkeypatch.setenv(key, value)

    def run(*argv: str) -> Any:
        capsys.readouterr()
        status = main([*argv, *MODEL, "--output", "json"])
        out, err = capsys.readouterr()
        assert status == 0, err
        return json.loads(out)

    return run


def test_a_shadow_reports_agreement_while_every_answer_comes_from_stable(
    local: Local, reference_model_dir: Path, cli: Any
) -> None:
    # Given a release of another model version (the same estimator: it should agree)
    local.publish(reference_model_dir, "v5-shadow")
    shadow = local.released("v5-shadow")
    releases = local.releases()
    before = releases.alias_state()
    stable = releases.version_info(before.stable)
    bucket = local.environment["MODELSHIP_BUCKET"]
    # and a fresh release of the stable model: its new environments read the shadow state on
    # their first request (warm ones would within SHADOW_STATE_REFRESH_SECONDS)
    fresh = local.released(stable.model_version)
    warm_version(local, shadow)
    try:
        # When it shadows every request and requests arrive, one at a time, until the shadow
        # has answered some
        started = cli("shadow", "start", "--version", shadow, "--sample", "100%")
        assert started["shadow"]["lambda_version"] == shadow
        releases.promote(candidate=fresh, direct=True, reason="e2e shadow commands")
        warm_up(local)
        seen: Counter[tuple[int, str]] = Counter()
        report: dict[str, Any] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            seen.update(post(local.api_url) for _ in range(5))
            report = cli("shadow", "status")["report"]
            if report["requests"] >= 3 and report["rows"] >= 3:
                break

        # Then every user got the stable answer, and the shadow agreed with all of them
        assert set(seen) == {(200, stable.model_version)}, seen
        assert report["model_version"] == "v5-shadow"
        assert report["requests"] >= 3, report
        assert report["mirrored"] > 0  # counted with the stable's following requests
        assert report["errors"] == 0
        assert report["agreement"] == 1.0
        assert report["mean_score_diff"] == 0.0
        assert report["shadow_latency"]["samples"] >= 3
        assert report["shadow_latency"]["p50_ms"] is not None  # the emulator's percentiles

        # And stop keeps the final report in S3 and in the history
        stopped = cli("shadow", "stop", "--reason", "e2e seen enough")
        assert stopped["report"]["final"] is True
        key = stopped["report_uri"].removeprefix(f"s3://{bucket}/")
        assert key.startswith(names.shadow_reports_prefix("churn"))
        kept = json.loads(local.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
        assert kept["requests"] >= report["requests"]
        record = releases.history.records()[-1]
        assert record.action == "shadow_stop"
        assert record.details == kept
        assert cli("shadow", "status") == {"shadow": None, "report": None}

        # And promote turns a shadow into a canary of its version
        cli("shadow", "start", "--version", shadow, "--sample", "50%")
        promoted = cli("shadow", "promote", "--weight", "10%", "--force")
        assert promoted["canary"]["to_version"] == shadow
        assert releases.alias_state().weights == {shadow: 0.1}
        assert cli("status")["shadow"] is None
    finally:
        with contextlib.suppress(NoShadow):
            stop_shadow(local.releases(), reason="e2e cleanup")
        if local.releases().alias_state().candidate is not None:
            rollback(local.releases(), reason="e2e shadow done")
        local.releases().promote(candidate=before.stable, direct=True, reason="e2e shadow done")


def warm_version(local: Local, version: str) -> None:
    """One request served directly by `version` (a Requests datum of its model version, no
    Shadow* one), so that the mirrors find a warm environment: on a loaded machine a cold
    start can outlast the function's timeout, again and again."""
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        endpoint_url=local.environment["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        config=Config(read_timeout=120, retries={"max_attempts": 1}),
    )
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        answer = client.invoke(
            FunctionName=local.environment["MODELSHIP_FUNCTION"],
            Qualifier=version,
            Payload=json.dumps(load_event("predict_valid")).encode(),
        )
        if "FunctionError" not in answer:
            return


def warm_up(local: Local) -> None:
    """A warm stable environment: on a loaded machine a cold start can outlast the function's
    timeout, and cold starts are not what this test is about."""
    deadline = time.monotonic() + 120
    while post(local.api_url)[0] != 200 and time.monotonic() < deadline:
        time.sleep(1)
