"""The synthesized retraining state machine and its functions, in a moto world from the
template."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from modelship import names
from modelship.local.template import resolve, resources_of_type, state_machine_definition
from tests.integration.release_template import _logical, function_env, refs, release_template
from tests.integration.release_world import World

PIPELINE_PREFIX = "functions.retraining."


def deploy_retraining(
    world: World,
    release_plan: list[dict[str, float]] | None = None,
    task_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """Creates the retraining task functions, the trigger, the release task function, the outcome
    topic and the retraining state machine as the template defines them. `release_plan`
    stands for deploying with another `releasePlan` context (the default bakes 10 minutes);
    `task_env` for other retraining context (TRAINING_ENTRY_POINT, TRAINING_CODE_DIR)."""
    template = release_template()
    topic_logical = _logical(template, "AWS::SNS::Topic", prefix="RetrainingPipeline")
    topic_arn = world.sns.create_topic(Name="modelship-retraining-outcomes")["TopicArn"]
    queue_url = world.sqs.create_queue(QueueName="outcomes")["QueueUrl"]
    queue_arn = world.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    world.sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    machine_id = _logical(template, "AWS::StepFunctions::StateMachine", prefix="RetrainingPipeline")
    machine_name = template["Resources"][machine_id]["Properties"]["StateMachineName"]
    machine_arn = f"arn:aws:states:us-east-1:123456789012:stateMachine:{machine_name}"
    mapping = {**refs(template), topic_logical: topic_arn, machine_id: machine_arn}
    attributes: dict[str, str] = {}
    release_logical = _logical(template, "AWS::Lambda::Function", names.RELEASE_HANDLER)
    attributes[f"{release_logical}.Arn"] = world.create_function(
        "modelship-release", names.RELEASE_HANDLER, function_env(template, names.RELEASE_HANDLER)
    )
    for logical, resource in resources_of_type(template, "AWS::Lambda::Function").items():
        handler = resource["Properties"]["Handler"]
        if not handler.startswith(PIPELINE_PREFIX):
            continue
        variables = resource["Properties"]["Environment"]["Variables"]
        env = resolve(variables, mapping, attributes)
        env["MODEL_CACHE_DIR"] = str(world.work / "retraining-cache")
        if release_plan is not None and names.ENV_RELEASE_PLAN in env:
            env[names.ENV_RELEASE_PLAN] = json.dumps(release_plan)
        if task_env and names.ENV_TRAINING_ENTRY_POINT in env:
            env.update(task_env)
        attributes[f"{logical}.Arn"] = world.create_function(
            f"modelship-{logical.lower()[:40]}", handler, env
        )
    definition = state_machine_definition(template, mapping, attributes, machine_id)
    json.loads(definition)
    created = world.sfn.create_state_machine(
        name=machine_name,
        definition=definition,
        roleArn=world.state_machine_role("RetrainingPipeline"),
    )
    assert created["stateMachineArn"] == machine_arn
    trigger = next(
        arn.rsplit(":", 1)[-1]
        for key, arn in attributes.items()
        if key.startswith("RetrainingPipelineTrigger")
    )
    return {"machine": machine_arn, "topic": topic_arn, "queue": queue_url, "trigger": trigger}


def outcome_messages(world: World, queue_url: str) -> list[dict[str, Any]]:
    messages = world.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def run_execution(world: World, machine: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Starts the state machine and waits for the execution to end."""
    arn = world.sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input))[
        "executionArn"
    ]
    return wait_execution(world, arn)


def wait_execution(world: World, arn: str) -> dict[str, Any]:
    """The execution once it is no longer RUNNING (fails the test after 120 s)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        described: dict[str, Any] = world.sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.1)
    pytest.fail("the retraining state machine did not finish in 120 s")
