"""A burst of hostile requests through the emulator's gateway against a freshly promoted
release: every one is a client answer, no function error, and `live` stays where it was
(the post-promotion guard would otherwise send it back to the previous release)."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from modelship.api_client import ApiClient
from modelship.local.activity import read_activity
from modelship.releases.rollback import rollback
from modelship.sample_events import load_event
from tests.e2e.conftest import TIME_SCALE, Local

pytestmark = pytest.mark.e2e
VALID = str(load_event("predict_valid")["body"]).encode()
ROW = json.loads(VALID)["instances"][0]

# (method, path, content type or None, body)
HOSTILE: list[tuple[str, str, str | None, bytes]] = [
    ("POST", "/predict", "application/octet-stream", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"),
    ("POST", "/predict", "image/png", base64.b64encode(b"\xff" * 64)),
    ("POST", "/predict", "application/x-www-form-urlencoded", b"\xff\xfe{not json"),
    ("POST", "/predict", "application/json", b"\xff\xfe{not utf-8"),
    ("POST", "/predict", None, VALID),  # base64 on the way in, still served
    (
        "POST",
        "/predict",
        "application/json",
        str(load_event("predict_huge_number")["body"]).encode(),
    ),
    (
        "POST",
        "/predict",
        "application/json",
        str(load_event("predict_too_many_fields")["body"]).encode(),
    ),
    (
        "POST",
        "/predict",
        "application/json",
        str(load_event("predict_duplicate_keys")["body"]).encode(),
    ),
    (
        "POST",
        "/predict",
        "application/json",
        json.dumps({"instances": [{**ROW, "senior_citizen": 1e308}] * 1000}).encode(),
    ),
    (
        "POST",
        "/predict",
        "application/json",
        b'{"instances":[' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
    ),
    (
        "POST",
        "/predict",
        "application/json",
        b'{"instances":[{"a":[' + b",".join([b"{}"] * 300_000) + b"]}]}",
    ),
    ("POST", "/predict", "application/json", b'{"instances": [{"tenure_months": '),
    ("POST", "/predict", "application/json", b'{"instances": "' + b"a" * 1_000_000 + b'"}'),
    ("TRACE", "/predict", None, b""),
    ("BREW", "/health", None, b""),
    ("DELETE", "/predict", None, b""),
]
CLIENT_STATUSES = {200, 400, 404, 413, 422}


def send(api_url: str, method: str, path: str, content_type: str | None, body: bytes) -> int:
    headers = {"content-type": content_type} if content_type else {}
    return ApiClient(api_url, timeout=120).call(method, path, body or None, headers).status


def test_a_burst_of_hostile_requests_leaves_a_fresh_promotion_live(
    local: Local, reference_model_dir: Path
) -> None:
    # Given a release promoted a moment ago (inside the post-promotion guard)
    releases = local.releases()
    previous = releases.alias_state().stable
    local.publish(reference_model_dir, "v5-hostile")
    promoted = local.released("v5-hostile")
    releases.promote(candidate=promoted, direct=True, reason="e2e hostile")
    started = datetime.now(UTC) - timedelta(seconds=1)
    before = releases.alias_state()
    records_before = len(releases.history.records())
    assert before.stable == promoted

    # When a burst of hostile requests arrives (after one valid request, so the burst is not
    # also a race of cold starts), then normal traffic for a few alarm periods
    assert send(local.api_url, "POST", "/predict", "application/json", VALID) == 200
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = list(pool.map(lambda request: send(local.api_url, *request), HOSTILE * 3))
    deadline = time.monotonic() + 4 * 60 / TIME_SCALE
    while time.monotonic() < deadline:
        assert send(local.api_url, "POST", "/predict", "application/json", VALID) == 200

    # Then every answer was a client answer, and live has not moved
    assert set(statuses) <= CLIENT_STATUSES, statuses
    after = releases.alias_state()
    assert (after.stable, after.weights) == (before.stable, before.weights)
    new_records = releases.history.records()[records_before:]
    assert [r.action for r in new_records] == [], new_records
    alarms = [
        a
        for a in read_activity(local.state_dir)
        if a["kind"] == "alarm-state-change"
        and a["to"] == "ALARM"
        and datetime.fromisoformat(a["at"]) >= started
    ]
    assert alarms == []
    # And the function never failed: Lambda's Errors for the alias stayed at zero
    errors = _alias_metric_sum(local, "Errors", promoted, started)
    invocations = _alias_metric_sum(local, "Invocations", promoted, started)
    assert invocations >= len(HOSTILE) * 3 - 9  # the unrouted methods never invoke it
    assert errors == 0

    # Leave the session's emulator as the other tests expect it
    rollback(releases, to=previous, reason="e2e hostile done")


def _alias_metric_sum(local: Local, metric: str, version: str, since: datetime) -> float:
    function = local.environment["MODELSHIP_FUNCTION"]
    alias = local.environment["MODELSHIP_ALIAS"]
    stats = local.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/Lambda",
        MetricName=metric,
        Dimensions=[
            {"Name": "FunctionName", "Value": function},
            {"Name": "Resource", "Value": f"{function}:{alias}"},
            {"Name": "ExecutedVersion", "Value": version},
        ],
        StartTime=since - timedelta(minutes=1),
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in stats["Datapoints"]))
