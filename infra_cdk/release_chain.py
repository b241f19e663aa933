"""The canary chain (steps, guardrail checks, promote, roll back) as a reusable piece.

Step Functions executions cannot start nested executions in every environment we run (the
local emulator's interpreter cannot), so the release state machine and the retraining state
machine each build their own copy of this chain over the same release task function.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

# Worth retrying: Lambda throttling and the transient service errors Step Functions' best
# practices list ("Handle Lambda service exceptions").
TRANSIENT_LAMBDA_ERRORS = [
    "Lambda.TooManyRequestsException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
]


def with_transient_retries(task: tasks.LambdaInvoke) -> tasks.LambdaInvoke:
    task.add_retry(
        errors=TRANSIENT_LAMBDA_ERRORS,
        interval=Duration.seconds(2),
        max_attempts=6,
        backoff_rate=2,
        jitter_strategy=sfn.JitterType.FULL,
    )
    return task


@dataclass(frozen=True)
class ReleaseChain:
    """`start` runs the plan in `$.steps` for the Lambda version in `$.candidate`; it ends in
    `on_promoted`, or rolls back and goes to `on_rolled_back` with the cause in `$.error`.

    Each step: ApplyStep (its result, with `applied_at`, in `$.applied`) -> Bake ->
    CheckGuardrails (the threshold alarms: the fast path) -> Judge (the canary verdict over
    the step so far, in `$.verdict`) -> Extend?: an inconclusive verdict with extensions left
    waits `$.verdict.extension_seconds` (ExtendBake), checks the guardrails and judges again
    with the next look; otherwise the step is done. A failed verdict, or a final inconclusive
    one under verdictOnInconclusive=rollback, is a task error the Map's Catch rolls back on."""

    start: sfn.Map


def build_release_chain(
    scope: Construct,
    *,
    release_function: lambda_.IFunction,
    on_promoted: sfn.IChainable,
    on_rolled_back: sfn.IChainable,
    on_rollback_failed: sfn.IChainable,
) -> ReleaseChain:
    def task(
        state_id: str, payload: dict[str, object], result_path: str = sfn.JsonPath.DISCARD
    ) -> tasks.LambdaInvoke:
        invoke = tasks.LambdaInvoke(
            scope,
            state_id,
            lambda_function=release_function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(Duration.minutes(2)),
        )
        with_transient_retries(invoke)
        # A lost RevisionId race: the task re-reads the alias on the next attempt.
        invoke.add_retry(errors=["ReleaseConflict"], interval=Duration.seconds(1), max_attempts=2)
        return invoke

    execution = sfn.JsonPath.string_at("$$.Execution.Id")
    candidate = sfn.JsonPath.string_at("$.candidate")

    rollback = task(
        "Rollback",
        {
            "action": "rollback",
            "candidate": candidate,
            "cause": sfn.JsonPath.string_at("$.error.Cause"),
            "execution": execution,
        },
    )
    rollback.add_catch(on_rollback_failed, errors=["States.ALL"], result_path="$.rollbackError")
    rollback.next(on_rolled_back)

    apply_step = task(
        "ApplyStep",
        {
            "action": "apply_step",
            "candidate": candidate,
            "weight": sfn.JsonPath.number_at("$.step.weight"),
            "step": sfn.JsonPath.number_at("$.index"),
            "execution": sfn.JsonPath.string_at("$.execution"),
        },
        result_path="$.applied",
    )
    bake = sfn.Wait(scope, "Bake", time=sfn.WaitTime.seconds_path("$.step.bake_seconds"))
    check = task("CheckGuardrails", {"action": "check", "candidate": candidate})
    judge = task(
        "Judge",
        {
            "action": "judge",
            "candidate": candidate,
            "since": sfn.JsonPath.string_at("$.applied.applied_at"),
            "look": sfn.JsonPath.number_at("$.verdict.next_look"),
            "step": sfn.JsonPath.number_at("$.index"),
            "execution": sfn.JsonPath.string_at("$.execution"),
        },
        result_path="$.verdict",
    )
    extend_bake = sfn.Wait(
        scope, "ExtendBake", time=sfn.WaitTime.seconds_path("$.verdict.extension_seconds")
    )
    extend = sfn.Choice(scope, "Extend?")
    extend.when(sfn.Condition.boolean_equals("$.verdict.extend", True), extend_bake.next(check))
    extend.otherwise(sfn.Pass(scope, "StepDone"))
    steps = sfn.Map(
        scope,
        "CanarySteps",
        items_path="$.steps",
        max_concurrency=1,
        item_selector={
            "candidate": candidate,
            "step": sfn.JsonPath.object_at("$$.Map.Item.Value"),
            "index": sfn.JsonPath.number_at("$$.Map.Item.Index"),
            "execution": execution,
            # The first judgement of a step is look 0; each extension judges the next look.
            "verdict": {"next_look": 0},
        },
        result_path=sfn.JsonPath.DISCARD,
    )
    steps.item_processor(apply_step.next(bake).next(check).next(judge).next(extend))
    steps.add_catch(rollback, errors=["States.ALL"], result_path="$.error")

    promote = task("Promote", {"action": "promote", "candidate": candidate, "execution": execution})
    promote.add_catch(rollback, errors=["States.ALL"], result_path="$.error")
    steps.next(promote).next(on_promoted)
    return ReleaseChain(start=steps)
