"""IAM enforcement in the moto worlds: with one grant removed from the template, the
call it allowed is denied as AWS denies it (to a handler, or to a Step Functions task)."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from modelship import names
from modelship.local.iam import Authorizer, template_policies
from modelship.local.template import resources_of_type
from modelship.sample_events import load_event
from tests.integration.iam_world import world_names
from tests.integration.release_template import (
    _logical,
    deploy_release_resources,
    release_template,
)
from tests.integration.release_world import World, open_world, released, stable_on

ROLLBACK = "modelship-rollback"


def _without_action(template: dict[str, Any], role_prefix: str, action: str) -> dict[str, Any]:
    """The template with `action` removed from the statements of the role's policies."""
    changed = copy.deepcopy(template)
    removed = 0
    for policy in resources_of_type(changed, "AWS::IAM::Policy").values():
        roles = [r.get("Ref", "") for r in policy["Properties"]["Roles"]]
        if not any(r.startswith(role_prefix) for r in roles):
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            if action in actions:
                statement["Action"] = [a for a in actions if a != action]
                removed += 1
    assert removed == 1, f"expected one statement granting {action} to {role_prefix}"
    return changed


@contextmanager
def _world_without(
    reference_model_dir: Path, tmp_path: Path, role_prefix: str, action: str
) -> Iterator[tuple[World, Authorizer]]:
    template = _without_action(release_template(), role_prefix, action)
    refs, attributes = world_names()
    authorizer = Authorizer(template_policies(template, refs, attributes))
    with open_world(reference_model_dir, tmp_path, authorizer=authorizer) as world:
        yield world, authorizer


@pytest.fixture
def denied_world(reference_model_dir: Path, tmp_path: Path) -> Iterator[tuple[World, Authorizer]]:
    with _world_without(
        reference_model_dir, tmp_path, "ReleasesRollbackRole", "lambda:UpdateAlias"
    ) as opened:
        yield opened


def test_without_its_update_alias_grant_the_rollback_is_denied(
    denied_world: tuple[World, Authorizer],
) -> None:
    world, authorizer = denied_world
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    world.create_function(ROLLBACK, names.ROLLBACK_HANDLER, world.release_env())

    response = world.lambda_.invoke(
        FunctionName=ROLLBACK, Payload=json.dumps(load_event("alarm_canary_errors"))
    )

    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert "AccessDeniedException" in error["errorMessage"]
    assert "is not authorized to perform: lambda:UpdateAlias" in error["errorMessage"]
    (denial,) = authorizer.denied
    rollback_role = release_template()["Resources"][
        _logical(release_template(), "AWS::Lambda::Function", names.ROLLBACK_HANDLER)
    ]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert denial["role"].endswith("/" + world_names()[0][rollback_role])
    assert denial["action"] == "lambda:UpdateAlias"
    assert denial["resource"] == "arn:aws:lambda:us-east-1:123456789012:function:modelship-predict"
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {candidate: 0.05}


def test_with_the_template_as_synthesized_the_same_rollback_is_allowed(world: World) -> None:
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    world.releases().start_canary(0.05, candidate)
    world.create_function(ROLLBACK, names.ROLLBACK_HANDLER, world.release_env())

    response = world.lambda_.invoke(
        FunctionName=ROLLBACK, Payload=json.dumps(load_event("alarm_canary_errors"))
    )

    assert "FunctionError" not in response, response["Payload"].read()
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}


def test_a_state_machine_without_its_invoke_grant_fails_its_lambda_tasks(
    reference_model_dir: Path, tmp_path: Path
) -> None:
    with _world_without(
        reference_model_dir, tmp_path, "ReleaseMachineStateMachineRole", "lambda:InvokeFunction"
    ) as (world, authorizer):
        machine = deploy_release_resources(world)
        (candidate,) = released(world, "v1")
        execution = world.sfn.start_execution(
            stateMachineArn=machine,
            input=json.dumps({"candidate": candidate, "steps": [], "reason": "test"}),
        )["executionArn"]
        deadline = time.monotonic() + 60
        while world.sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.1)

        history = world.sfn.get_execution_history(executionArn=execution)["events"]
        failed = [
            e["lambdaFunctionFailedEventDetails"]
            for e in history
            if e["type"] == "LambdaFunctionFailed"
        ]
        assert world.sfn.describe_execution(executionArn=execution)["status"] == "FAILED"
        assert failed
        assert all(
            "is not authorized to perform: lambda:InvokeFunction" in f["cause"] for f in failed
        )
        assert {d["action"] for d in authorizer.denied} == {"lambda:InvokeFunction"}
        assert "ReleaseMachineStateMachineRole" in authorizer.denied[0]["role"]


READER_ARN = "arn:aws:iam::123456789012:role/stack-Reader"
READER_TEMPLATE: dict[str, Any] = {
    "Resources": {
        "Reader": {"Type": "AWS::IAM::Role", "Properties": {}},
        "ReaderPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "Reader"}],
                "PolicyName": "p",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": "arn:aws:s3:::bucket/*",
                        },
                        {
                            "Effect": "Allow",
                            "Action": "s3:ListBucket",
                            "Resource": "arn:aws:s3:::bucket",
                            "Condition": {"StringLike": {"s3:prefix": ["listed/*"]}},
                        },
                    ],
                },
            },
        },
    }
}


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[Any]:
    """A moto bucket and a role that may read it (and list only under listed/)."""
    import boto3
    from moto import mock_aws

    from modelship.local.iam.enforcement import enforce

    authorizer = Authorizer(template_policies(READER_TEMPLATE, {"Reader": "stack-Reader"}, {}))
    with mock_aws(), enforce(authorizer):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket")
        yield s3


def test_calls_from_a_handlers_thread_pool_are_the_handlers(reader: Any, tmp_path: Path) -> None:
    from boto3.exceptions import S3UploadFailedError

    from modelship.local.iam.enforcement import acting_as

    source = tmp_path / "model.joblib"
    source.write_bytes(b"x" * 1024)

    # upload_file makes its PutObject in a worker thread of boto3's transfer manager.
    with acting_as(READER_ARN, "reader"), pytest.raises(S3UploadFailedError, match="AccessDenied"):
        reader.upload_file(str(source), "bucket", "models/model.joblib")

    assert "Contents" not in reader.list_objects_v2(Bucket="bucket")


def test_a_missing_key_is_403_unless_the_role_may_list_it(reader: Any) -> None:
    from botocore.exceptions import ClientError

    from modelship.local.iam.enforcement import acting_as

    def code_of_missing(key: str) -> str:
        with acting_as(READER_ARN, "reader"), pytest.raises(ClientError) as error:
            reader.get_object(Bucket="bucket", Key=key)
        return str(error.value.response["Error"]["Code"])

    assert code_of_missing("listed/absent.json") == "NoSuchKey"
    assert code_of_missing("unlisted/absent.json") == "AccessDenied"
