"""IAM enforcement in the emulator: with the rollback role's lambda:UpdateAlias grant removed
from the synthesized template, the rollback function (running in a worker) is denied as AWS
would deny it, the canary stays, and the denial is recorded in activity.jsonl."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelship.local.activity import read_activity
from modelship.local.background import start_detached, stop_detached
from modelship.local.deployer import find_template
from modelship.local.emulator import EmulatorConfig
from modelship.local.iam import enabled
from modelship.releases.canary_alarms import canary_alarm_names
from modelship.sample_events import load_event
from tests.e2e.conftest import Local, free_port

pytestmark = pytest.mark.skipif(not enabled(), reason="IAM enforcement is off (MODELSHIP_IAM)")


def _remove_update_alias(template_path: Path) -> None:
    template = json.loads(template_path.read_text())
    removed = 0
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = [r.get("Ref", "") for r in resource["Properties"]["Roles"]]
        if not any(r.startswith("ReleasesRollbackRole") for r in roles):
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if "lambda:UpdateAlias" in actions:
                statement["Action"] = [a for a in actions if a != "lambda:UpdateAlias"]
                removed += 1
    assert removed == 1
    template_path.write_text(json.dumps(template))


@pytest.fixture(scope="module")
def restricted(cdk_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    work = tmp_path_factory.mktemp("iam-denial")
    copy = work / "cdk.out"
    shutil.copytree(cdk_out, copy, symlinks=True)
    _remove_update_alias(find_template(copy))
    config = EmulatorConfig(
        cdk_out=copy,
        state_dir=work / "emulator",
        api_port=free_port(),
        aws_port=free_port(),
        seed_model=False,
        iam=True,
    )
    state = start_detached(config)
    try:
        yield Local(state["endpoints"]["environment"], config.state_dir, work)
    finally:
        stop_detached(config.state_dir)


def test_the_rollback_is_denied_without_its_update_alias_grant(
    restricted: Local, reference_model_dir: Path
) -> None:
    # Given a stable release and a canary
    restricted.publish(reference_model_dir, "v1")
    restricted.publish(reference_model_dir, "v2")
    releases = restricted.releases()
    stable = restricted.released("v1")
    releases.promote(candidate=stable, direct=True, reason="e2e baseline")
    candidate = restricted.released("v2")
    releases.start_canary(0.05, candidate=candidate, reason="e2e")
    function = restricted.environment["MODELSHIP_FUNCTION"]
    alarm = canary_alarm_names(function, candidate)[0]
    event: dict[str, Any] = load_event("alarm_canary_errors")
    event["resources"] = [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm}"]
    event["detail"]["alarmName"] = alarm
    lambda_ = restricted.client("lambda")
    rollback = next(
        f["FunctionName"]
        for f in lambda_.list_functions()["Functions"]
        if "ReleasesRollback" in f["FunctionName"]
    )

    # When its alarm reaches the rollback function
    response = lambda_.invoke(FunctionName=rollback, Payload=json.dumps(event))

    # Then UpdateAlias is denied as AWS denies it, recorded, and the canary stays
    error = json.loads(response["Payload"].read())
    assert response.get("FunctionError") == "Unhandled", error
    assert "AccessDeniedException" in error["errorMessage"]
    assert "is not authorized to perform: lambda:UpdateAlias" in error["errorMessage"]
    denials = [a for a in read_activity(restricted.state_dir) if a["kind"] == "iam-denied"]
    assert [(d["action"], d["resource"]) for d in denials] == [
        ("lambda:UpdateAlias", f"arn:aws:lambda:us-east-1:123456789012:function:{function}")
    ]
    assert "ReleasesRollbackRole" in denials[0]["role"]
    assert releases.alias_state().candidate == candidate
