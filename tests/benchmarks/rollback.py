"""Figure 6: rollback reaction on the local emulator.

A release whose artifact was corrupted after it was published is canaried; traffic flows
until a guardrail alarm fires and the rollback function clears the canary. The figure is the
time from the alarm's state change to ALARM (the emulator's activity log) to the rollback
recorded in the release history (written right after the alias update): EventBridge-style
delivery plus the rollback function's work, the part modelship owns. Alarm evaluation delay
(the period) is not part of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.credentials import ReadOnlyCredentials

from modelship.api_client import ApiClient
from modelship.local.activity import read_activity
from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import EmulatorConfig
from modelship.registry.manifest import copy_as_version
from modelship.registry.registry import Registry
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases
from modelship.sample_events import load_event
from tests.benchmarks.models import free_port

TIME_SCALE = 30.0
CANARY_WEIGHT = 0.05


@dataclass(frozen=True)
class RollbackReaction:
    seconds: list[float]
    alarms: list[str]
    time_scale: float
    weight: float


def _post(client: ApiClient, body: bytes) -> None:
    client.call("POST", "/predict", body, {"content-type": "application/json"})


def _api_client(env: dict[str, str]) -> ApiClient:
    """Signed with the emulator's credentials (the bench's own process has none)."""
    credentials = ReadOnlyCredentials(
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
    )
    return ApiClient(env["MODELSHIP_API_URL"], credentials=credentials, region=env["AWS_REGION"])


def measure_rollback(work: Path, model_dir: Path, cdk_out: Path, runs: int) -> RollbackReaction:
    config = EmulatorConfig(
        cdk_out=cdk_out,
        state_dir=work / "emulator",
        api_port=free_port(),
        aws_port=free_port(),
        time_scale=TIME_SCALE,
        seed_model=False,
    )
    state = start_detached(config)
    try:
        env: dict[str, str] = state["endpoints"]["environment"]

        def client(service: str) -> Any:
            return boto3.client(
                service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1"
            )

        bucket = env["MODELSHIP_BUCKET"]
        registry = Registry(client("s3"), bucket)
        releases = Releases(
            ReleaseTarget(env["MODELSHIP_FUNCTION"], env["MODELSHIP_ALIAS"], bucket),
            lambda_client=client("lambda"),
            s3=client("s3"),
            cloudwatch=client("cloudwatch"),
            sts=client("sts"),
        )
        registry.publish(copy_as_version(model_dir, work / "stable", "stable"))
        stable, _ = releases.create("stable", reason="bench baseline")
        releases.promote(candidate=stable.version, direct=True, reason="bench baseline")
        body = json.loads(load_event("predict_valid")["body"])
        payload = json.dumps(body).encode()
        api = _api_client(env)
        seconds: list[float] = []
        alarms: list[str] = []
        for run in range(runs):
            version = f"broken-{run}"
            registry.publish(copy_as_version(model_dir, work / version, version))
            candidate, _ = releases.create(version, reason="bench: will be corrupted")
            client("s3").put_object(
                Bucket=bucket, Key=f"models/churn/{version}/model.joblib", Body=b"not a model"
            )
            releases.start_canary(CANARY_WEIGHT, candidate.version, reason="bench")
            deadline = time.monotonic() + 180
            while releases.alias_state().candidate is not None:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"run {run}: the canary was not rolled back in 180 s")
                _post(api, payload)
            record = _rollback_record(releases)
            fired = _alarm_time(config.state_dir, record.alarm, record.time)
            seconds.append((record.time - fired).total_seconds())
            alarms.append(
                "the canary's own error rate"
                if "-canary-v" in record.alarm
                else "the function-wide error rate"
            )
        return RollbackReaction(seconds, alarms, TIME_SCALE, CANARY_WEIGHT)
    finally:
        stop_detached(config.state_dir)


def _rollback_record(releases: Releases) -> Any:
    """The rollback the function records right after it updated the alias."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        record = releases.history.records()[-1]
        if record.action == "rollback" and record.alarm is not None:
            return record
        time.sleep(0.05)
    raise RuntimeError("the alias was cleared but no rollback was recorded")


def _alarm_time(state_dir: Path, alarm: str, before: datetime) -> datetime:
    """The last ALARM transition of `alarm` at or before the rollback."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        times = [
            datetime.fromisoformat(a["at"])
            for a in read_activity(state_dir)
            if a["kind"] == "alarm-state-change" and a["to"] == "ALARM" and a["alarm"] == alarm
        ]
        earlier = [t for t in times if t <= before]
        if earlier:
            return max(earlier)
        time.sleep(0.1)
    raise RuntimeError(f"no ALARM transition of {alarm} before {before.isoformat()}")
