"""IAM enforcement on the rollback path: with the rollback role's lambda:UpdateAlias grant
removed from the template, the rollback is denied as AWS would deny it, and recorded."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelship import names
from modelship.local.iam import Authorizer, template_policies
from modelship.local.template import resources_of_type
from modelship.sample_events import load_event
from tests.integration.iam_world import world_names
from tests.integration.release_template import _logical, release_template
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


@pytest.fixture
def denied_world(reference_model_dir: Path, tmp_path: Path) -> Iterator[tuple[World, Authorizer]]:
    template = _without_action(release_template(), "ReleasesRollbackRole", "lambda:UpdateAlias")
    refs, attributes = world_names()
    authorizer = Authorizer(template_policies(template, refs, attributes))
    with open_world(reference_model_dir, tmp_path, authorizer=authorizer) as world:
        yield world, authorizer


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
