"""Model monitoring end to end on the emulator: every request captured through Firehose to S3,
the drift monitor run by its schedule (under --time-scale), undrifted traffic judged with the
drift alarm staying OK, then drifted traffic: the alarm fires, exactly one retraining run
starts (named after the drift alarm), and the drift report names the features that moved and
none that did not."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from modelship import names
from modelship.demo_traffic import post
from modelship.local.activity import read_activity
from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import IAM_FILE
from modelship.registry.registry import Registry
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases
from modelship.training.churn import CHURN_FEATURES, generate_churn
from tests.e2e.conftest import emulator_config, synth
from tests.iam_report import RECORDED

pytestmark = pytest.mark.e2e
MODEL = "churn"
# One window is judged once it holds every row of one phase, never part of one: each phase
# sends exactly this many rows.
ROWS = 300
BATCH = 20
# rate(5 minutes) is a run every 10 s at time scale 30; the alarm's period is the same.
CONTEXT = {
    "captureSampleRate": 1,
    "driftSchedule": "rate(5 minutes)",
    "driftMinRows": ROWS,
}
MOVED = {"monthly_charges", "support_calls"}
UNMOVED = {"payment_method", "internet_service", "paperless_billing", "num_products"}
T = TypeVar("T")


@dataclass
class Monitored:
    environment: dict[str, str]
    state_dir: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.environment["AWS_ENDPOINT_URL"], region_name="us-east-1"
        )

    @property
    def bucket(self) -> str:
        return self.environment["MODELSHIP_BUCKET"]

    @property
    def alarm(self) -> str:
        return names.drift_alarm_name(self.environment["MODELSHIP_FUNCTION"])

    def reports(self) -> list[dict[str, Any]]:
        """Every drift report, oldest first."""
        s3 = self.client("s3")
        listed = s3.list_objects_v2(Bucket=self.bucket, Prefix=names.drift_reports_prefix(MODEL))
        keys = sorted(o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith("-v1.json"))
        return [
            {"key": key, **json.loads(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())}
            for key in keys
        ]

    def drift_alarm_changes(self) -> list[dict[str, Any]]:
        return [
            a
            for a in read_activity(self.state_dir)
            if a["kind"] == "alarm-state-change" and a["alarm"] == self.alarm
        ]

    def retraining_runs(self) -> list[str]:
        sfn = self.client("stepfunctions")
        machine = self.environment["MODELSHIP_RETRAIN_STATE_MACHINE"]
        return [e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]

    def monitor_runs(self) -> int:
        return sum(
            1
            for a in read_activity(self.state_dir)
            if a["kind"] == "event-handled" and "DriftMonitor" in a.get("target", "")
        )


@pytest.fixture(scope="module")
def monitored(
    tmp_path_factory: pytest.TempPathFactory, reference_model_dir: Path
) -> Iterator[Monitored]:
    work = tmp_path_factory.mktemp("drift-monitor")
    config = emulator_config(work, synth(work / "cdk.out", CONTEXT))
    state = start_detached(config)
    try:
        deployed = Monitored(state["endpoints"]["environment"], config.state_dir)
        model_dir = work / "model"
        shutil.copytree(reference_model_dir, model_dir)
        Registry(deployed.client("s3"), deployed.bucket).publish(model_dir)
        env = deployed.environment
        releases = Releases(
            ReleaseTarget(env["MODELSHIP_FUNCTION"], env["MODELSHIP_ALIAS"], deployed.bucket),
            lambda_client=deployed.client("lambda"),
            s3=deployed.client("s3"),
            cloudwatch=deployed.client("cloudwatch"),
            sts=deployed.client("sts"),
        )
        info, _ = releases.create("v1", reason="e2e drift baseline")
        releases.promote(candidate=info.version, direct=True, reason="e2e drift baseline")
        yield deployed
    finally:
        stop_detached(config.state_dir)
        RECORDED.add_emulator(config.state_dir / IAM_FILE)


def _send(api_url: str, drift: float, seed: int) -> None:
    table = generate_churn(n_rows=ROWS, seed=seed, drift=drift)
    rows = [
        {
            name: (
                str(table.columns[name][i])
                if kind == "categorical"
                else float(table.columns[name][i])
            )
            for name, kind in CHURN_FEATURES.items()
        }
        for i in range(ROWS)
    ]
    for start in range(0, ROWS, BATCH):
        body = json.dumps({"instances": rows[start : start + BATCH]}).encode()
        status, version, answer = post(api_url, body)
        assert (status, version) == (200, "v1"), answer


def _eventually(what: str, probe: Callable[[], T | None], timeout: float = 120.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what}")


def _judged(monitored: Monitored, verdict: str) -> dict[str, Any] | None:
    judged = [r for r in monitored.reports() if r["verdict"] == verdict]
    return judged[-1] if judged else None


def test_only_drifted_traffic_fires_the_drift_alarm_and_starts_one_retraining_run(
    monitored: Monitored,
) -> None:
    api = monitored.environment["MODELSHIP_API_URL"]

    # Undrifted traffic: judged as one window, no drift, the alarm stays OK.
    _send(api, drift=0.0, seed=101)
    calm = _eventually("the undrifted window's report", lambda: _judged(monitored, "no_drift"))
    assert (calm["rows"], calm["drifted_features"]) == (ROWS, [])
    runs_after_calm = monitored.monitor_runs()
    _eventually("two more monitor runs", lambda: monitored.monitor_runs() >= runs_after_calm + 2)
    assert [c["to"] for c in monitored.drift_alarm_changes()] in ([], ["OK"])
    assert monitored.retraining_runs() == []

    # Drifted traffic: the next judged window drifts, the alarm fires once.
    _send(api, drift=0.8, seed=202)
    drifted = _eventually("the drifted window's report", lambda: _judged(monitored, "drift"))
    assert drifted["rows"] == ROWS
    assert drifted["window_start"] == calm["window_end"]
    assert set(drifted["drifted_features"]) >= MOVED
    assert not set(drifted["drifted_features"]) & UNMOVED
    _eventually(
        "the drift alarm in ALARM",
        lambda: any(c["to"] == "ALARM" for c in monitored.drift_alarm_changes()),
    )
    runs = _eventually("a retraining run", monitored.retraining_runs)
    # Later monitor runs find no new rows: no score, the alarm returns to OK, nothing more
    # starts.
    after = monitored.monitor_runs()
    _eventually("three more monitor runs", lambda: monitored.monitor_runs() >= after + 3)
    runs = monitored.retraining_runs()
    assert len(runs) == 1, runs
    assert runs[0].startswith("drift-")
    assert [c["to"] for c in monitored.drift_alarm_changes()][-2:] == ["ALARM", "OK"]

    # The report as JSON and as a page, in S3.
    s3 = monitored.client("s3")
    page = s3.get_object(Bucket=monitored.bucket, Key=drifted["key"].replace(".json", ".html"))
    assert page["ContentType"].startswith("text/html")
    assert b"monthly_charges" in page["Body"].read()
