"""The release state machine: canary steps from the execution input, guardrail checks,
promotion, and a rollback on any failure.

Input: {"candidate": "7", "steps": [{"weight": 0.05, "bake_seconds": 300}, ...]}; `modelship
rollout --plan 5:5m,25:10m,100` writes it. For each step (a Map with MaxConcurrency 1, in
order): set the weight, wait the bake time, check the guardrail alarms. Then promote. Every
failure (an alarm, a refused step, a task error) lands in Rollback, then a Fail state with the
cause. Stopped and timed-out executions skip the Catch; the rollback function hears of them
through EventBridge (see guardrails.py).

All logic runs in one release task function (functions/release) over
modelship.releases.releases, so the same code backs the CLI and the machine, and the machine
runs under moto in the tests.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk import nag
from infra_cdk.async_failures import AsyncFailures
from infra_cdk.release_chain import build_release_chain
from infra_cdk.task_function import FunctionBase, task_function
from modelship import names


class ReleaseFunctions(Construct):
    """The release task function and the rollback function, each with its own least-privilege
    role over one predict function's alias, its guardrail alarms and its release history."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        alias: lambda_.IAlias,
        bucket: s3.IBucket,
        base: FunctionBase,
        error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        p99_latency_ms: float = names.DEFAULT_GUARDRAIL_P99_LATENCY_MS,
        guardrail_period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
        post_promotion_guard_seconds: int = names.DEFAULT_POST_PROMOTION_GUARD_SECONDS,
        verdict_environment: Mapping[str, str] | None = None,
    ) -> None:
        """`verdict_environment`: the release task's VERDICT_* variables
        (`VerdictOptions.environment()`); absent, the function uses the defaults."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        environment = {
            names.ENV_PREDICT_FUNCTION: function.function_name,
            names.ENV_ALIAS_NAME: alias.alias_name,
            names.ENV_RELEASE_BUCKET: bucket.bucket_name,
            names.ENV_GUARDRAIL_ERROR_RATE: f"{error_rate_percent:g}",
            names.ENV_GUARDRAIL_P99_LATENCY_MS: f"{p99_latency_ms:g}",
            names.ENV_GUARDRAIL_PERIOD_SECONDS: str(guardrail_period_seconds),
            names.ENV_POST_PROMOTION_GUARD_SECONDS: str(post_promotion_guard_seconds),
        }
        alarm_arns = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=names.guardrail_alarm_prefix(function.function_name) + "*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        history_objects = bucket.arn_for_objects(
            f"{names.RELEASES_PREFIX}/{function.function_name}/*"
        )

        def make(
            name: str,
            handler: str,
            service: str,
            description: str,
            own_environment: Mapping[str, str],
        ) -> lambda_.Function:
            created, role = task_function(
                self,
                name,
                base=base,
                handler=handler,
                description=description,
                role_description=f"modelship {service}: one alias, its alarms and history",
                environment={
                    **environment,
                    **own_environment,
                    names.ENV_POWERTOOLS_SERVICE_NAME: service,
                },
            )
            # Lambda authorizes GetFunctionConfiguration with a Qualifier on the qualified ARN
            # (function:version), and alias actions on the unqualified function ARN (Service
            # Authorization Reference, resource type `function`), not on the alias ARN.
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ReadReleases",
                    actions=["lambda:GetFunctionConfiguration"],
                    resources=[f"{function.function_arn}:*"],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="RouteAlias",
                    actions=["lambda:GetAlias", "lambda:UpdateAlias"],
                    resources=[function.function_arn],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="History",
                    actions=["s3:GetObject", "s3:PutObject"],
                    resources=[history_objects],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="ListHistory",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={
                        "StringLike": {
                            "s3:prefix": [f"{names.RELEASES_PREFIX}/{function.function_name}/*"]
                        }
                    },
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    sid="CanaryAlarms",
                    actions=["cloudwatch:DeleteAlarms"],
                    resources=[alarm_arns],
                )
            )
            if bucket.encryption_key is not None:
                bucket.encryption_key.grant_encrypt_decrypt(role)
            nag.release_function_role(role, function, bucket)
            return created

        self.release_function = make(
            "ReleaseTask",
            names.RELEASE_HANDLER,
            names.RELEASE_SERVICE_NAME,
            "modelship release task: canary step, guardrail check, verdict, promote, rollback",
            verdict_environment or {},
        )
        self.rollback_function = make(
            "Rollback",
            names.ROLLBACK_HANDLER,
            names.ROLLBACK_SERVICE_NAME,
            "modelship rollback: clears the canary on a guardrail alarm or failed rollout",
            {},
        )
        # Only the release task creates canary alarms and reads alarm states.
        self.release_function.add_to_role_policy(
            iam.PolicyStatement(
                sid="CreateCanaryAlarms",
                actions=["cloudwatch:PutMetricAlarm"],
                resources=[alarm_arns],
            )
        )
        self.release_function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadAlarmStates",
                actions=["cloudwatch:DescribeAlarms"],
                resources=["*"],  # DescribeAlarms has no resource-level permissions
            )
        )
        # The canary verdict reads both sides' metrics. GetMetricData's only resource type
        # (Service Authorization Reference) is the optional `dataset` of OTLP metrics;
        # classic metrics have none, so the statement names "*".
        self.release_function.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadCanaryMetrics",
                actions=["cloudwatch:GetMetricData"],
                resources=["*"],
            )
        )

        # A rollback that keeps failing must not vanish: undeliverable events and invocations
        # that failed after Lambda's retries wait in a dead-letter queue, and both the queue's
        # depth and the function's own errors alarm (outside the guardrail prefix, so the
        # rollback function is never asked to handle its own failure).
        ops_prefix = f"{names.OPS_ALARM_PREFIX}{function.function_name}-"
        self.rollback_failures = AsyncFailures(
            self,
            "RollbackFailures",
            function=self.rollback_function,
            alarm_name=f"{ops_prefix}rollback-dlq",
            what="rollback function",
        )
        self.rollback_errors = cloudwatch.Alarm(
            self,
            "RollbackErrors",
            alarm_name=f"{ops_prefix}rollback-errors",
            alarm_description="modelship: the rollback function failed; a guardrail alarm or an "
            "abandoned rollout may not have been acted on (see docs/operations.md)",
            metric=self.rollback_function.metric_errors(
                period=Duration.minutes(1), statistic="Sum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )


class ReleaseMachine(Construct):
    """The release state machine over a release task function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        release_function: lambda_.IFunction,
        log_group_name: str,
        timeout: Duration | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        """`log_group_name`: resource_names.release_log_group_name (not derived here from
        Stack.of(self).stack_name, which in a nested stack is its own generated name)."""
        super().__init__(scope, construct_id)

        rolled_back = sfn.Fail(
            self,
            "RolledBack",
            error="RolloutFailed",
            cause_path=sfn.JsonPath.string_at("$.error.Cause"),
        )
        rollback_failed = sfn.Fail(
            self,
            "RollbackFailed",
            error="RollbackFailed",
            cause="the rollback task failed; the rollback function retries from the "
            "execution's FAILED event. Check `modelship status`",
        )
        chain = build_release_chain(
            self,
            release_function=release_function,
            on_promoted=sfn.Succeed(self, "Promoted"),
            on_rolled_back=rolled_back,
            on_rollback_failed=rollback_failed,
        )
        definition = chain.start

        log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout or Duration.hours(24),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
            comment="modelship release: canary steps, guardrail checks, promote or roll back",
        )
        nag.state_machine_role(self.state_machine.role, [release_function])
