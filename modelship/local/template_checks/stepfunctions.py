"""Step Functions state machines: the name, the definition's size, the SageMaker training
job names written in it, and the logging advisories."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

# Step Functions API reference, CreateStateMachine: name 1-80 characters, none of white space,
# brackets < > { } [ ], wildcards ? *, special characters " # % \ ^ | ~ ` $ & , ; : /, or
# control characters; "to enable logging with CloudWatch Logs, the name should only contain
# 0-9, A-Z, a-z, - and _" (a recommendation: advisory).
STATE_MACHINE_NAME = (80, re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]+"))
STATE_MACHINE_LOGGING_NAME = re.compile(r"[0-9A-Za-z_-]+")
# Step Functions API reference, CreateStateMachine: definition at most 1,048,576 characters.
STATE_MACHINE_DEFINITION_MAX = 1_048_576
# Step Functions developer guide, "Avoiding CloudWatch Logs resource policy size
# restrictions": prefix log group names with /aws/vendedlogs/ (a recommendation: advisory).
VENDED_LOGS_PREFIX = "/aws/vendedlogs/"
# SageMaker API reference, CreateTrainingJob: TrainingJobName 1-63,
# [a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}.
TRAINING_JOB_NAME = (63, re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"))


def _state_machine(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sfn-state-machine-name",
        logical,
        "StateMachineName",
        props.get("StateMachineName"),
        STATE_MACHINE_NAME,
        "a state machine name",
    )
    logging_on = (props.get("LoggingConfiguration") or {}).get("Level", "OFF") != "OFF"
    name = ctx.text(props.get("StateMachineName"))
    if logging_on and name and not STATE_MACHINE_LOGGING_NAME.fullmatch(name):
        ctx.advise(
            "sfn-logging-name",
            logical,
            "StateMachineName",
            name,
            "with logging on, the name should only contain 0-9, A-Z, a-z, - and _",
        )
    raw = props.get("DefinitionString")
    definition = ctx.text(raw) if raw is not None else json.dumps(props.get("Definition", {}))
    if definition is not None:
        ctx.at_most(
            "sfn-definition-size",
            logical,
            "DefinitionString",
            definition,
            STATE_MACHINE_DEFINITION_MAX,
            length_only=True,
        )
        _training_job_names(ctx, logical, definition)
    for destination in (props.get("LoggingConfiguration") or {}).get("Destinations") or []:
        group = (destination.get("CloudWatchLogsLogGroup") or {}).get("LogGroupArn")
        target = _log_group_name(ctx, group)
        if target is not None and not target.startswith(VENDED_LOGS_PREFIX):
            ctx.advise(
                "sfn-vended-log-group",
                logical,
                "LoggingConfiguration.Destinations",
                target,
                f"log groups not under {VENDED_LOGS_PREFIX} each grow the account's "
                "5,120-character CloudWatch Logs resource policy",
            )


def _log_group_name(ctx: Context, arn: Any) -> str | None:
    if isinstance(arn, dict) and "Fn::GetAtt" in arn:
        target = arn["Fn::GetAtt"]
        logical = target[0] if isinstance(target, list) else str(target).split(".", 1)[0]
        if logical in ctx.resources:
            name = (ctx.resources[logical].get("Properties") or {}).get("LogGroupName")
            return name if isinstance(name, str) else "(generated name)"
    text = ctx.text(arn)
    if text and ":log-group:" in text:
        return text.split(":log-group:", 1)[1].removesuffix(":*")
    return None


def _training_job_names(ctx: Context, logical: str, definition: str) -> None:
    """Literal TrainingJobName parameters of SageMaker tasks (a JSONPath one is only known
    at run time)."""
    try:
        states = json.loads(definition)
    except ValueError:
        return
    for state_name, state in _states(states):
        resource = str(state.get("Resource", ""))
        if ":sagemaker:createTrainingJob" not in resource:
            continue
        name = (state.get("Parameters") or state.get("Arguments") or {}).get("TrainingJobName")
        if isinstance(name, str):
            ctx.name(
                "sagemaker-training-job-name",
                logical,
                f"States.{state_name}.Parameters.TrainingJobName",
                name,
                TRAINING_JOB_NAME,
                "a training job name",
            )


def _states(machine: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in (machine.get("States") or {}).items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        for key in ("Iterator", "ItemProcessor"):
            if isinstance(state.get(key), dict):
                yield from _states(state[key])


RULES: dict[str, Rule] = {"AWS::StepFunctions::StateMachine": _state_machine}
