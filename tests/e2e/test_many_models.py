"""Two models in one deployment on the emulator (the second in a nested stack): a broken
canary of one is rolled back by its own guardrail while the other keeps serving, untouched:
0 errors on its traffic and its alias state identical (revision id included) before and
after."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelship import names
from modelship.demo_traffic import Traffic, post
from modelship.local.activity import read_activity
from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import IAM_FILE
from modelship.registry.registry import Registry
from modelship.releases.directory import DeployedModel, ModelDirectory
from modelship.releases.models import ReleaseTarget
from modelship.releases.plan import parse_plan
from modelship.releases.releases import Releases
from modelship.releases.rollout import rollout_input, start_rollout
from modelship.sample_events import load_event
from tests.e2e.conftest import emulator_config, synth
from tests.iam_report import RECORDED

pytestmark = pytest.mark.e2e
CHURN, FOREST = "churn", "churn-forest"
# Retraining and data capture (with it the drift monitor) off: this test is about serving and
# releases; fewer resources start faster, and every role deployed is exercised here.
OFF = {"retraining": "off", "captureSampleRate": 0}
# churn-forest's healthy rollout gets a few dozen canary requests (one thread, a 1-minute bake
# compressed 30 times), fewer than the canary verdict's 100 per side: its verdict is
# inconclusive, and this test is about isolation, not the judge, so the model proceeds.
MODELS = {CHURN: OFF, FOREST: {**OFF, "verdictOnInconclusive": "proceed"}}
BODY = str(load_event("predict_valid")["body"])


@dataclass
class Deployed:
    environment: dict[str, str]
    state_dir: Path
    work: Path
    models: dict[str, DeployedModel]

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.environment["AWS_ENDPOINT_URL"], region_name="us-east-1"
        )

    def releases(self, model: str) -> Releases:
        entry = self.models[model]
        return Releases(
            ReleaseTarget(entry.function, entry.alias, entry.bucket),
            lambda_client=self.client("lambda"),
            s3=self.client("s3"),
            cloudwatch=self.client("cloudwatch"),
            sts=self.client("sts"),
        )

    def publish(self, reference: Path, model: str, version: str) -> None:
        """The reference model published as `model` `version` (the manifest names both)."""
        copy = self.work / f"{model}-{version}"
        shutil.copytree(reference, copy)
        manifest = json.loads((copy / names.MODEL_MANIFEST_FILE).read_text())
        manifest.update(name=model, version=version)
        (copy / names.MODEL_MANIFEST_FILE).write_text(json.dumps(manifest))
        Registry(self.client("s3"), self.models[model].bucket).publish(copy)


@pytest.fixture(scope="module")
def deployed(
    tmp_path_factory: pytest.TempPathFactory, reference_model_dir: Path
) -> Iterator[Deployed]:
    work = tmp_path_factory.mktemp("many-models")
    context = {"models": MODELS, "defaultModel": CHURN}
    config = emulator_config(work, synth(work / "cdk.out", context))
    state = start_detached(config)
    try:
        environment = state["endpoints"]["environment"]
        ssm = boto3.client(
            "ssm", endpoint_url=environment["AWS_ENDPOINT_URL"], region_name="us-east-1"
        )
        directory = ModelDirectory(ssm, environment["MODELSHIP_STACK"]).models()
        deployed = Deployed(environment, config.state_dir, work, {m.model: m for m in directory})
        for model in (CHURN, FOREST):
            deployed.publish(reference_model_dir, model, "v1")
            releases = deployed.releases(model)
            info, _ = releases.create("v1", reason="e2e baseline")
            releases.promote(candidate=info.version, direct=True, reason="e2e baseline")
        yield deployed
    finally:
        stop_detached(config.state_dir)
        RECORDED.add_emulator(config.state_dir / IAM_FILE)


def test_local_up_names_the_stack_and_its_default_model(deployed: Deployed) -> None:
    assert sorted(deployed.models) == [CHURN, FOREST]
    assert deployed.models[CHURN].default
    assert deployed.environment["MODELSHIP_FUNCTION"] == deployed.models[CHURN].function
    assert deployed.models[FOREST].function != deployed.models[CHURN].function


def test_each_models_routes_reach_its_own_function(deployed: Deployed) -> None:
    api = deployed.environment["MODELSHIP_API_URL"]

    answers = {
        path: post(api, BODY.encode(), path)
        for path in ("/predict", f"/models/{CHURN}/predict", f"/models/{FOREST}/predict")
    }

    assert {path: (s, v, b.get("model_name")) for path, (s, v, b) in answers.items()} == {
        "/predict": (200, "v1", CHURN),
        f"/models/{CHURN}/predict": (200, "v1", CHURN),
        f"/models/{FOREST}/predict": (200, "v1", FOREST),
    }
    # Only the template's routes exist: a model the deployment lacks is the gateway's 404.
    assert post(api, BODY.encode(), "/models/elsewhere/predict")[0] == 404


def test_a_broken_canarys_alarm_has_its_own_rollback_function_clear_it(
    deployed: Deployed, reference_model_dir: Path
) -> None:
    # The alarm -> EventBridge -> rollback function path alone: a canary started by hand has
    # no rollout whose guardrail check could clear it first.
    api = deployed.environment["MODELSHIP_API_URL"]
    forest = deployed.releases(FOREST)
    candidate = _broken_release(deployed, reference_model_dir, "v2-alarmed")
    before = forest.alias_state()
    forest.start_canary(0.05, candidate, reason="e2e broken canary by hand")

    with Traffic(api, [BODY], f"/models/{FOREST}/predict", threads=2) as traffic:
        deadline = time.monotonic() + 120
        while forest.alias_state().candidate is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        served = traffic.reset()

    assert forest.alias_state().candidate is None
    assert forest.alias_state().stable == before.stable
    assert any(status == 503 and version == "v2-alarmed" for status, version in served)
    # The rollback function records the rollback just after it clears the alias.
    record = forest.history.records()[-1]
    record_deadline = time.monotonic() + 10
    while record.action != "rollback" and time.monotonic() < record_deadline:
        time.sleep(0.1)
        record = forest.history.records()[-1]
    assert (record.action, record.from_version, record.execution) == ("rollback", candidate, None)
    assert record.alarm is not None
    assert record.alarm.startswith(names.guardrail_alarm_prefix(deployed.models[FOREST].function))
    # The rollback function's answer lands in the activity log just after it returns.
    handled: list[dict[str, Any]] = []
    log_deadline = time.monotonic() + 10
    while not handled and time.monotonic() < log_deadline:
        handled = [
            a
            for a in read_activity(deployed.state_dir)
            if a["kind"] == "event-handled"
            and a.get("detail-type") == "CloudWatch Alarm State Change"
            and (a.get("result") or {}).get("changed")
            and f"canary version {candidate} cleared" in a["result"]["message"]
        ]
        time.sleep(0.1)
    assert len(handled) == 1, handled
    assert "churnforest" in handled[0]["target"].lower(), handled


def test_a_broken_canary_is_rolled_back_while_the_other_model_is_untouched(
    deployed: Deployed, reference_model_dir: Path
) -> None:
    api = deployed.environment["MODELSHIP_API_URL"]
    churn, forest = deployed.releases(CHURN), deployed.releases(FOREST)
    # Given a churn-forest candidate whose artifact was corrupted in S3 after its release
    candidate = _broken_release(deployed, reference_model_dir, "v2-broken")
    churn_before, forest_before = churn.alias_state(), forest.alias_state()

    # When it is canaried while traffic flows to both models
    with (
        Traffic(api, [BODY], f"/models/{CHURN}/predict", threads=1) as churn_traffic,
        Traffic(api, [BODY], f"/models/{FOREST}/predict", threads=2) as forest_traffic,
    ):
        time.sleep(1)
        # through churn-forest's own release state machine, as `modelship rollout` starts it
        sfn = deployed.client("stepfunctions")
        execution = start_rollout(
            sfn,
            deployed.models[FOREST].release_state_machine,
            rollout_input(candidate, parse_plan("5:10m,100"), reason="e2e broken canary"),
        )
        deadline = time.monotonic() + 180
        while forest.alias_state().candidate is None and _running(sfn, execution, deadline):
            time.sleep(0.2)
        while forest.alias_state().candidate is not None and time.monotonic() < deadline:
            time.sleep(0.2)
        while _running(sfn, execution, deadline):
            time.sleep(0.5)
        time.sleep(1)
        untouched, canaried = churn_traffic.reset(), forest_traffic.reset()

    # Then churn-forest's own guardrails rolled its canary back, and the rollout failed: its
    # canary alarm (through its rollback function, or the rollout's guardrail check after the
    # bake, whichever came first; both name the alarm) or the step's verdict, whose exact error
    # test finds a candidate failing every request significant on a few dozen of them. The
    # previous test covers the rollback function alone.
    assert sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
    assert forest.alias_state().candidate is None
    assert forest.alias_state().stable == forest_before.stable
    assert any(status == 503 and version == "v2-broken" for status, version in canaried)
    record = forest.history.records()[-1]
    assert record.action == "rollback"
    fired = [
        a
        for a in read_activity(deployed.state_dir)
        if a["kind"] == "alarm-state-change" and a["to"] == "ALARM"
    ]
    if record.alarm is not None:
        assert record.alarm.startswith(
            names.guardrail_alarm_prefix(deployed.models[FOREST].function)
        )
        assert any(a["alarm"] == record.alarm for a in fired), fired
    else:
        assert "CanaryVerdictFailed: fail: errors (candidate 100.00%" in record.reason, record
        verdicts = [r for r in forest.history.records() if r.action == "verdict"]
        assert verdicts[-1].details is not None
        assert verdicts[-1].details["outcome"] == "fail"
    # And churn served every request with v1, its alias unchanged (revision id included)
    assert sum(untouched.values()) > 20
    assert set(untouched) == {(200, "v1")}, untouched
    assert churn.alias_state() == churn_before
    assert "rollback" not in [r.action for r in churn.history.records()]
    churn_prefix = names.guardrail_alarm_prefix(deployed.models[CHURN].function)
    assert not [a for a in fired if a["alarm"].startswith(churn_prefix)]


def test_a_healthy_rollout_promotes_one_model_and_leaves_the_other_alone(
    deployed: Deployed, reference_model_dir: Path
) -> None:
    churn, forest = deployed.releases(CHURN), deployed.releases(FOREST)
    deployed.publish(reference_model_dir, FOREST, "v3")
    info, _ = forest.create("v3", reason="e2e healthy")
    churn_before = churn.alias_state()
    api = deployed.environment["MODELSHIP_API_URL"]
    sfn = deployed.client("stepfunctions")

    with Traffic(api, [BODY], f"/models/{FOREST}/predict", threads=1) as traffic:
        execution = start_rollout(
            sfn,
            deployed.models[FOREST].release_state_machine,
            rollout_input(info.version, parse_plan("10:1m,100"), reason="e2e healthy"),
        )
        deadline = time.monotonic() + 180
        while _running(sfn, execution, deadline):
            time.sleep(0.5)
        served = traffic.reset()

    assert sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED"
    assert forest.alias_state().stable == info.version
    assert forest.alias_state().candidate is None
    assert {status for status, _ in served} == {200}, served
    # The promotion cleaned up the candidate's canary alarms; churn's alias never moved.
    alarms = deployed.client("cloudwatch").describe_alarms(
        AlarmNamePrefix=names.guardrail_alarm_prefix(deployed.models[FOREST].function)
    )["MetricAlarms"]
    assert not [a for a in alarms if names.CANARY_ALARM_MARKER + info.version in a["AlarmName"]]
    assert churn.alias_state() == churn_before


def _broken_release(deployed: Deployed, reference: Path, version: str) -> str:
    """A churn-forest Lambda version of model `version`, its artifact then corrupted in S3."""
    deployed.publish(reference, FOREST, version)
    info, _ = deployed.releases(FOREST).create(version, reason="e2e broken")
    deployed.client("s3").put_object(
        Bucket=deployed.models[FOREST].bucket,
        Key=f"{names.MODELS_PREFIX}/{FOREST}/{version}/{names.MODEL_ARTIFACT_FILE}",
        Body=b"not a model",
    )
    return info.version


def _running(sfn: Any, execution: str, deadline: float) -> bool:
    status = sfn.describe_execution(executionArn=execution)["status"]
    return status == "RUNNING" and time.monotonic() < deadline
