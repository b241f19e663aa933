"""The synthesized release resources, and moto resources created from them.

The template comes from the CDK app as `make synth` builds it (infra_cdk.app.build_app, with a
stub layer: tests/synthesis.py); the state machine's definition and the release functions'
environment are read from it, so the tests run what would be deployed.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from modelship.local.template import resolve, resources_of_type, state_machine_definition
from tests.conftest import BUCKET
from tests.integration.release_world import ALIAS, FUNCTION, World


@cache
def release_template() -> dict[str, Any]:
    # The default app, synthesized once per process for every tier (tests/synthesis.py).
    from tests.synthesis import synthesized

    return synthesized().parent()


def _logical(
    template: dict[str, Any], kind: str, handler: str | None = None, prefix: str = ""
) -> str:
    matches = [
        logical
        for logical, resource in resources_of_type(template, kind).items()
        if (handler is None or resource["Properties"].get("Handler") == handler)
        and logical.startswith(prefix)
    ]
    assert len(matches) == 1, f"expected one {kind} {handler or ''}, found {matches}"
    return matches[0]


def refs(template: dict[str, Any]) -> dict[str, str]:
    """What Ref returns for the resources the release resources point at, in the moto world."""
    from modelship import names

    mapping = {
        _logical(template, "AWS::Lambda::Function", names.PREDICT_HANDLER): FUNCTION,
        _logical(template, "AWS::S3::Bucket", prefix="ModelBucket"): BUCKET,
    }
    for logical in resources_of_type(template, "AWS::Lambda::Alias"):
        mapping[logical] = f"arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}:{ALIAS}"
    return mapping


def function_env(template: dict[str, Any], handler: str) -> dict[str, str]:
    logical = _logical(template, "AWS::Lambda::Function", handler)
    variables = template["Resources"][logical]["Properties"]["Environment"]["Variables"]
    # Everything else (queues, topics, ...) by the names the world gives it (iam_world).
    from tests.integration.iam_world import world_names

    world_refs, world_attributes = world_names()
    resolved: dict[str, str] = resolve(
        variables, {**world_refs, **refs(template)}, world_attributes
    )
    return resolved


def deploy_release_resources(world: World, release_env: dict[str, str] | None = None) -> str:
    """Creates the release task and rollback functions and the release state machine in moto,
    as the template defines them; returns the state machine ARN. `release_env` stands for
    deploying with other verdict context (verdictOnInconclusive=proceed is
    VERDICT_ON_INCONCLUSIVE=proceed in the release task's environment)."""
    from modelship import names

    template = release_template()
    attributes: dict[str, str] = {}
    for handler in (names.RELEASE_HANDLER, names.ROLLBACK_HANDLER):
        logical = _logical(template, "AWS::Lambda::Function", handler)
        name = f"modelship-{handler.split('.')[1]}"
        env = function_env(template, handler)
        if handler == names.RELEASE_HANDLER and release_env:
            assert set(release_env) <= set(env), "only variables the template sets"
            env.update(release_env)
        try:  # the retraining pipeline may have created the release task function already
            arn = world.lambda_.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        except world.lambda_.exceptions.ResourceNotFoundException:
            arn = world.create_function(name, handler, env)
        attributes[f"{logical}.Arn"] = arn
    machine_id = _logical(template, "AWS::StepFunctions::StateMachine", prefix="ReleaseMachine")
    definition = state_machine_definition(template, refs(template), attributes, machine_id)
    json.loads(definition)  # resolved completely
    machine = world.sfn.create_state_machine(
        name="modelship-release",
        definition=definition,
        roleArn=world.state_machine_role("ReleaseMachine"),
    )
    return str(machine["stateMachineArn"])
