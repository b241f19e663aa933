"""Canary verdicts through the release state machine, as `modelship rollout` starts it, on the
emulator: a healthy candidate whose one request fails (a transient fault) at low traffic is
judged against stable and promoted; a candidate 50% slower is judged slower and rolled back,
the verdict naming latency.

The models are copies of the reference model that sleep in predict_proba
(tests/paced_models.py), so model latency is dominated by a known delay: stable 20 ms, the
slow candidate 30 ms. This module runs its own emulator: a verdict minimum suited to the
few dozen canary requests a test drives, retraining and data capture off so it starts fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from modelship.demo_traffic import Traffic, reference_bodies
from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import IAM_FILE
from modelship.registry.registry import Registry
from modelship.releases.plan import parse_plan
from modelship.releases.releases import Releases
from modelship.releases.rollout import rollout_input, start_rollout
from modelship.sample_events import load_event
from tests.e2e.conftest import Local, emulator_config, synth
from tests.iam_report import RECORDED
from tests.paced_models import paced_model

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "modelship"]
MODEL = "churn"
# Each side needs this many requests (and latency values) before a check may pass: a few
# dozen canary requests are what one step at 20% gets here (an inconclusive look bakes again
# for 120 s, 4 s at the emulator's compressed time, up to 3 times).
CONTEXT = {
    "models": {MODEL: {"retraining": "off", "captureSampleRate": 0, "verdictMinRequests": 30}},
    "defaultModel": MODEL,
}
STABLE_DELAY = 0.02
BODIES = reference_bodies(batches=40)


@dataclass
class Deployment(Local):
    # Lambda versions by role: stable, healthy (one transient failure), slow (50% slower).
    versions: dict[str, str] = field(default_factory=dict)

    def release(
        self, reference: Path, version: str, delay: float, *, fail_first: bool = False
    ) -> str:
        """The reference model, `delay` s slower, published as `version` and released."""
        out = paced_model(
            reference, self.work / version, version=version, delay=delay, fail_first=fail_first
        )
        Registry(self.client("s3"), self.environment["MODELSHIP_BUCKET"]).publish(out)
        info, _ = self.releases().create(version, reason="e2e verdicts")
        return info.version

    def warm(self, version: str) -> None:
        """A worker for Lambda `version` started and its model loaded (GET /health: no
        prediction), so a rollout's short bake is not spent in a cold start under load."""
        answer = self.client("lambda").invoke(
            FunctionName=f"{self.environment['MODELSHIP_FUNCTION']}:{version}",
            Payload=json.dumps(load_event("health")),
        )
        assert json.loads(answer["Payload"].read())["statusCode"] == 200

    def modelship(self, *argv: str) -> Any:
        """The CLI's JSON answer, run as a user runs it with the emulator's environment."""
        done = subprocess.run(
            [*CLI, *argv, "--model", MODEL, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **self.environment},
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, reference_model_dir: Path
) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("verdicts")
    config = emulator_config(work, synth(work / "cdk.out", CONTEXT))
    state = start_detached(config)
    try:
        deployed = Deployment(state["endpoints"]["environment"], config.state_dir, work)
        deployed.versions = {
            "stable": deployed.release(reference_model_dir, "paced-stable", STABLE_DELAY),
            "healthy": deployed.release(
                reference_model_dir, "paced-healthy", STABLE_DELAY, fail_first=True
            ),
            "slow": deployed.release(reference_model_dir, "paced-slow", STABLE_DELAY * 1.5),
        }
        for version in deployed.versions.values():
            deployed.warm(version)
        yield deployed
    finally:
        stop_detached(config.state_dir)
        RECORDED.add_emulator(config.state_dir / IAM_FILE)


@pytest.fixture
def paced_stable(deployment: Deployment) -> Deployment:
    """The paced stable serves `live` alone (this module's emulator is its own: nothing else
    expects another stable)."""
    releases = deployment.releases()
    if releases.alias_state().stable != deployment.versions["stable"]:
        releases.promote(
            candidate=deployment.versions["stable"], direct=True, reason="e2e: paced stable"
        )
    return deployment


def rollout(
    deployment: Deployment, candidate: str, plan: str, watch: Any = None
) -> tuple[str, Counter[tuple[int, str]]]:
    """Runs the release state machine's rollout of `candidate` under steady traffic: its
    final status and the answers by (status, X-Model-Version). `watch(releases)` is called
    while it runs."""
    sfn = deployment.client("stepfunctions")
    releases = deployment.releases()
    # One client at a time: each version then runs in one worker (the emulator starts another
    # only for a concurrent request), so the healthy candidate fails exactly one request.
    api = deployment.environment["MODELSHIP_API_URL"]
    with Traffic(api, BODIES, threads=1) as traffic:
        time.sleep(1)  # stable answers a few requests before the canary starts
        execution = start_rollout(
            sfn,
            deployment.environment["MODELSHIP_RELEASE_STATE_MACHINE"],
            rollout_input(candidate, parse_plan(plan), reason="e2e verdict"),
        )
        deadline = time.monotonic() + 150
        status = "RUNNING"
        while status == "RUNNING" and time.monotonic() < deadline:
            if watch is not None:
                watch(releases)
            time.sleep(0.5)
            status = sfn.describe_execution(executionArn=execution)["status"]
        served = traffic.reset()
    return str(status), served


def verdicts(deployment: Deployment, candidate: str) -> list[dict[str, Any]]:
    """The details of every verdict on `candidate`'s canary, oldest first."""
    records = deployment.releases().history.records()
    return [
        r.details
        for r in records
        if r.action == "verdict" and r.to_version == candidate and r.details is not None
    ]


def check(verdict: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in verdict["checks"] if c["name"] == name)
    return found


def test_a_healthy_candidate_with_one_transient_error_at_low_traffic_is_promoted(
    paced_stable: Deployment,
) -> None:
    deployment = paced_stable
    candidate = deployment.versions["healthy"]
    shown: dict[str, dict[str, Any]] = {}

    def watch(releases: Releases) -> None:
        summary = releases.status().verdict
        if summary is not None:
            shown.setdefault(summary.as_dict()["time"], summary.as_dict())

    # When the candidate, whose first request fails, is rolled out in two steps
    status, served = rollout(deployment, candidate, "20:10m,50:5m,100", watch)

    # Then it was promoted, its one failed request in the traffic notwithstanding
    assert status == "SUCCEEDED", served
    releases = deployment.releases()
    assert releases.alias_state().stable == candidate
    assert releases.alias_state().candidate is None
    assert served[(503, "paced-healthy")] == 1, served
    assert {s for s, _ in served} == {200, 503}, served
    # Each step ended in a pass (a look with too few requests yet is inconclusive, and the
    # step bakes on); the first pass saw the one error among its few dozen requests.
    judged = verdicts(deployment, candidate)
    assert "fail" not in [v["outcome"] for v in judged], judged
    passed = [v for v in judged if v["outcome"] == "pass"]
    assert len(passed) == 2, judged
    errors = check(passed[0], "errors")
    assert errors["outcome"] == "pass"
    assert 30 <= errors["candidate_n"] < errors["stable_n"], errors
    # One failed request of the candidate's, none of stable's: the rate difference is 1/n.
    assert errors["effect"] * errors["candidate_n"] == pytest.approx(1.0), errors
    assert check(passed[0], "latency")["outcome"] == "pass"
    assert check(passed[0], "scores")["outcome"] == "pass"
    # And `status` showed the first step's verdict while the second step baked
    sizes = [check(v, "errors")["candidate_n"] for v in passed]
    assert any(
        v["outcome"] == "pass" and v["candidate_requests"] in sizes for v in shown.values()
    ), shown
    # The CLI's history lists every verdict with its checks
    records = deployment.modelship("history", "--limit", "30")["records"]
    listed = [r for r in records if r["action"] == "verdict" and r["to_version"] == candidate]
    assert [r["details"] for r in listed] == judged
    assert [r["reason"] for r in listed if r["details"]["outcome"] == "pass"] == [
        "pass: errors, latency, scores within the policy's margins"
    ] * 2


def test_a_candidate_50_percent_slower_is_rolled_back_by_a_verdict_naming_latency(
    paced_stable: Deployment,
) -> None:
    deployment = paced_stable
    candidate = deployment.versions["slow"]
    releases = deployment.releases()

    # When the candidate, 30 ms per call against stable's 20, is rolled out
    status, served = rollout(deployment, candidate, "20:10m,100")

    # Then the rollout failed and the canary is gone, stable serving alone
    assert status == "FAILED"
    assert releases.alias_state().stable == deployment.versions["stable"]
    assert releases.alias_state().candidate is None
    assert {s for s, _ in served} == {200}, served
    assert served[(200, "paced-slow")] > 0, served
    # rolled back by the verdict, its latency check failing by about half again
    record = releases.history.records()[-1]
    assert (record.action, record.from_version) == ("rollback", candidate), record
    assert record.alarm is None, record
    assert "CanaryVerdictFailed: fail: latency (candidate median 1." in record.reason, record
    verdict = verdicts(deployment, candidate)[-1]
    assert verdict["outcome"] == "fail"
    latency = check(verdict, "latency")
    assert latency["outcome"] == "fail"
    # 30 ms against 20, plus the model's own few ms on both sides: a little under 0.5.
    assert 0.25 < latency["effect"] < 0.6, latency
    assert check(verdict, "errors")["outcome"] != "fail"
    # And `modelship status` names the verdict as the failed rollout's cause
    shown = deployment.modelship("status")
    assert shown["candidate"] is None
    causes = [r["cause"] for r in shown["rollouts"] if r["status"] == "FAILED"]
    assert any("CanaryVerdictFailed" in c and "latency" in c for c in causes), shown
