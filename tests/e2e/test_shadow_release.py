"""A shadow release on the emulator: the stable version's workers read the shadow state, mirror
their requests to the shadow version with asynchronous Invokes (authorized against the
template's policy), the shadow's worker compares and its Shadow* metrics reach CloudWatch,
while every answer users get comes from stable (X-Model-Version)."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelship import names
from modelship.api_client import call
from modelship.sample_events import load_event
from modelship.serving.shadow_state import ShadowState
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e
BODY = str(load_event("predict_valid")["body"]).encode()
SHADOW_MODEL = "v6-shadow"


def _post(api_url: str) -> tuple[int, str]:
    answer = call(api_url, "POST", "/predict", BODY, {"content-type": "application/json"})
    return answer.status, answer.header("X-Model-Version")


def _traffic(api_url: str, requests: int) -> Counter[tuple[int, str]]:
    """One at a time: one warm worker serves them all (a cold start each for four parallel
    workers can outlast the function's timeout on a loaded machine)."""
    return Counter(_post(api_url) for _ in range(requests))


def _sums(local: Local, model_version: str, metrics: list[str]) -> dict[str, float]:
    """Each metric's sum over the last hour under exactly {service, Model, ModelVersion}."""
    cloudwatch = local.client("cloudwatch")
    now = datetime.now(UTC)
    sums = {}
    for metric in metrics:
        answer = cloudwatch.get_metric_statistics(
            Namespace=names.METRICS_NAMESPACE,
            MetricName=metric,
            Dimensions=[
                {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
                {"Name": names.METRIC_DIMENSION_MODEL, "Value": "churn"},
                {"Name": names.METRIC_DIMENSION_MODEL_VERSION, "Value": model_version},
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=3600,
            Statistics=["Sum"],
        )
        sums[metric] = float(sum(p["Sum"] for p in answer["Datapoints"]))
    return sums


def _model_of(local: Local, lambda_version: str) -> str:
    config = local.client("lambda").get_function_configuration(
        FunctionName=local.environment["MODELSHIP_FUNCTION"], Qualifier=lambda_version
    )
    return str(config["Environment"]["Variables"][names.ENV_MODEL_VERSION])


def test_a_shadow_compares_mirrored_requests_while_users_get_only_stable_answers(
    local: Local, reference_model_dir: Path
) -> None:
    releases = local.releases()
    before = releases.alias_state()
    assert before.candidate is None
    stable_model = _model_of(local, before.stable)
    s3, bucket = local.client("s3"), local.environment["MODELSHIP_BUCKET"]
    state_key = names.shadow_state_key("churn")

    # Given a release of another model version running as the shadow, mirroring everything,
    local.publish(reference_model_dir, SHADOW_MODEL)
    shadow = local.released(SHADOW_MODEL)
    state = ShadowState(
        model="churn",
        lambda_version=shadow,
        model_version=SHADOW_MODEL,
        sample_rate=1.0,
        started_at=datetime.now(UTC),
        started_by="e2e",
    )
    s3.put_object(Bucket=bucket, Key=state_key, Body=state.body())
    # and a fresh release of the stable model (new workers read the state at once; warm ones
    # would within SHADOW_STATE_REFRESH_SECONDS)
    fresh = local.released(stable_model)
    releases.promote(candidate=fresh, direct=True, reason="e2e shadow")
    try:
        # Cold starts are not what this test is about: one warm worker for each version.
        _post(local.api_url)
        local.client("lambda").invoke(
            FunctionName=local.environment["MODELSHIP_FUNCTION"],
            Qualifier=shadow,
            Payload=json.dumps(load_event("health")).encode(),
        )
        # When requests arrive, until the shadow has compared some of them
        seen: Counter[tuple[int, str]] = Counter()
        wanted = [names.METRIC_SHADOW_REQUESTS, names.METRIC_SHADOW_ERRORS]
        compared = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            seen += _traffic(local.api_url, 20)
            compared = _sums(local, SHADOW_MODEL, wanted)
            if compared[names.METRIC_SHADOW_REQUESTS] >= 20:
                break
            time.sleep(0.5)

        # Then every answer came from stable,
        assert set(seen) == {(200, stable_model)}, seen
        # the shadow compared mirrors of them without errors and agreed on every row (the
        # same model under another version name),
        shadow_sums = _sums(
            local,
            SHADOW_MODEL,
            [
                *wanted,
                names.METRIC_SHADOW_ROWS,
                names.METRIC_SHADOW_AGREEING_ROWS,
                names.METRIC_SHADOW_LATENCY,
                names.METRIC_REQUESTS,
            ],
        )
        assert shadow_sums[names.METRIC_SHADOW_REQUESTS] >= 20, shadow_sums
        assert shadow_sums[names.METRIC_SHADOW_ERRORS] == 0.0, shadow_sums
        assert shadow_sums[names.METRIC_SHADOW_ROWS] >= 20, shadow_sums
        assert (
            shadow_sums[names.METRIC_SHADOW_AGREEING_ROWS] == shadow_sums[names.METRIC_SHADOW_ROWS]
        )
        assert shadow_sums[names.METRIC_SHADOW_LATENCY] > 0.0
        # and no request was ever served by, or counted for, the shadow's model version.
        assert shadow_sums[names.METRIC_REQUESTS] == 0.0
        # The stable side counted what it sent (reported with the requests that followed).
        mirrored = _sums(local, stable_model, [names.METRIC_SHADOW_MIRRORED])
        assert mirrored[names.METRIC_SHADOW_MIRRORED] > 0.0
    finally:
        s3.delete_object(Bucket=bucket, Key=state_key)
        releases.promote(candidate=before.stable, direct=True, reason="e2e shadow done")
