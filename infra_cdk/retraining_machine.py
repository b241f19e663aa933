"""The retraining state machine over the pipeline's task functions.

prepare -> train -> evaluate -> gate -> (rejected: notify) | register -> create release ->
canary chain (the same chain as the release state machine) -> notify. Every task has a
timeout and retries transient Lambda errors with backoff; any failure before the release
notifies and fails without touching the registry or the alias (register is the first write,
and it runs only after the gate passed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra_cdk.release_chain import build_release_chain, with_transient_retries
from infra_cdk.resource_names import vended_log_group_name
from infra_cdk.settings import RETRAINING_TIMEOUT_HOURS


@dataclass(frozen=True)
class RetrainingTasks:
    """The task functions; `collect` files a SageMaker job's output (that backend only)."""

    prepare: lambda_.Function
    train: lambda_.Function
    evaluate: lambda_.Function
    gate: lambda_.Function
    register: lambda_.Function
    create_release: lambda_.Function
    notify: lambda_.Function
    collect: lambda_.Function | None

    def all(self) -> list[lambda_.Function]:
        functions = [self.prepare, self.train, self.evaluate, self.gate, self.register]
        functions += [self.create_release, self.notify]
        return functions + ([self.collect] if self.collect is not None else [])


# A task gives up this long after its function's own timeout: Lambda stops the function first
# (a Sandbox.Timedout function error), so a task Step Functions gave up on has no function
# still writing; States.Timeout remains for an invocation that never answers. (A transient
# Lambda service error retried by with_transient_retries may still leave the first invocation
# running; Register's puts are conditional, so a second one cannot overwrite the first.)
TASK_TIMEOUT_MARGIN = Duration.seconds(30)


def lambda_task(
    scope: Construct,
    state_id: str,
    fn: lambda_.Function,
    *,
    whole_input: bool = False,
    result_path: str | None = None,
) -> tasks.LambdaInvoke:
    """A pipeline task. `whole_input` hands over {run_id, input: $}: the first task gets
    the raw execution input (optional keys need no defaults), and so does a notice after
    a failed Prepare."""
    payload = (
        sfn.TaskInput.from_object(
            {
                "run_id": sfn.JsonPath.string_at("$$.Execution.Name"),
                "input": sfn.JsonPath.object_at("$"),
            }
        )
        if whole_input
        else None
    )
    task = tasks.LambdaInvoke(
        scope,
        state_id,
        lambda_function=fn,
        payload=payload,
        payload_response_only=True,
        retry_on_service_exceptions=False,
        result_path=result_path,
        task_timeout=sfn.Timeout.duration(
            (fn.timeout or Duration.seconds(3)).plus(TASK_TIMEOUT_MARGIN)
        ),
    )
    return with_transient_retries(task)


def _notify(
    scope: Construct,
    notify_function: lambda_.Function,
    state_id: str,
    outcome: str | None,
    then: sfn.IChainable,
) -> sfn.Chain:
    """Sets $.release.outcome (when the run reached the release), publishes the outcome,
    then goes on to `then`; a lost notice does not change how the run ends."""
    notify = lambda_task(
        scope,
        f"Notify{state_id}",
        notify_function,
        whole_input=True,
        result_path="$.notice",
    )
    notify.add_catch(
        sfn.Pass(scope, f"Notify{state_id}Lost").next(then),
        errors=["States.ALL"],
        result_path="$.notifyError",
    )
    notify.next(then)
    if outcome is None:
        return sfn.Chain.start(notify)
    mark = sfn.Pass(
        scope,
        f"Mark{state_id}",
        result=sfn.Result.from_object({"outcome": outcome}),
        result_path="$.release",
    )
    return mark.next(notify)


def retraining_state_machine(
    scope: Construct,
    *,
    functions: RetrainingTasks,
    train: sfn.TaskStateBase,
    release_function: lambda_.IFunction,
    state_machine_name: str,
    model_name: str,
    log_retention: logs.RetentionDays,
) -> sfn.StateMachine:
    """`train` is the Train state of the chosen backend (the Lambda trainer or SageMaker)."""
    failed = sfn.Fail(
        scope, "RetrainingFailed", error="RetrainingFailed", cause_path="$.error.Cause"
    )
    notify_failed = _notify(scope, functions.notify, "Failed", None, failed)

    prepare = lambda_task(scope, "Prepare", functions.prepare, whole_input=True)
    steps: list[Any] = [prepare, train]
    if functions.collect is not None:
        steps.append(lambda_task(scope, "CollectCandidate", functions.collect))
    evaluate = lambda_task(scope, "Evaluate", functions.evaluate)
    gate = lambda_task(scope, "Gate", functions.gate)
    register = lambda_task(scope, "Register", functions.register)
    create_release = lambda_task(scope, "CreateRelease", functions.create_release)
    steps += [evaluate, gate, register, create_release]
    for step in steps:
        step.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")

    def notify(state_id: str, outcome: str | None, then: sfn.IChainable) -> sfn.Chain:
        return _notify(scope, functions.notify, state_id, outcome, then)

    rejected = notify(
        "Rejected", None, sfn.Succeed(scope, "Rejected", comment="the gates kept the champion")
    )
    rolled_back = sfn.Fail(
        scope, "CanaryRolledBack", error="RolloutFailed", cause_path="$.error.Cause"
    )
    rollback_failed = sfn.Fail(
        scope,
        "CanaryRollbackFailed",
        error="RollbackFailed",
        cause="the rollback task failed; the rollback function retries from the execution's "
        "FAILED event. Check `modelship status`",
    )
    chain = build_release_chain(
        scope,
        release_function=release_function,
        on_promoted=notify(
            "Promoted",
            "promoted",
            sfn.Succeed(scope, "Promoted", comment="the challenger serves all traffic"),
        ),
        on_rolled_back=notify("RolledBack", "rolled_back", rolled_back),
        on_rollback_failed=rollback_failed,
    )
    passed = sfn.Choice(scope, "GatesPassed?")
    passed.when(
        sfn.Condition.boolean_equals("$.decision.passed", True),
        register.next(create_release).next(chain.start),
    )
    passed.otherwise(rejected)
    definition = sfn.Chain.start(prepare)
    for step in steps[1:-2]:
        definition = definition.next(step)
    definition = definition.next(passed)

    log_group = logs.LogGroup(
        scope,
        "StateMachineLogs",
        log_group_name=vended_log_group_name(state_machine_name),
        retention=log_retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    return sfn.StateMachine(
        scope,
        "StateMachine",
        # A fixed name lets the trigger's role name its executions without a wildcard.
        state_machine_name=state_machine_name,
        definition_body=sfn.DefinitionBody.from_chainable(definition),
        timeout=Duration.hours(RETRAINING_TIMEOUT_HOURS),
        tracing_enabled=True,
        logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
        comment=f"modelship retraining ({model_name}): prepare, train, evaluate, gate, "
        "register, release",
    )
