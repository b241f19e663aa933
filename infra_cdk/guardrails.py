"""Static guardrail alarms and the automatic rollback wiring.

Canary alarms (per candidate ModelVersion) are created by `modelship canary start` and the
release state machine at run time; the static ones here guard the alias at all times, which
matters most right after a promotion. Every guardrail alarm is named with the function's
prefix, and one EventBridge rule sends any of them entering ALARM to the rollback function;
a second rule sends failed, stopped and timed-out rollouts there too.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.release_machine import guardrail_alarm_prefix
from modelship import names

ABANDONED_ROLLOUT_STATUSES = ["FAILED", "ABORTED", "TIMED_OUT"]


class Guardrails(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        alias: lambda_.Alias,
        rollback_function: lambda_.IFunction,
        release_machine: sfn.IStateMachine,
        error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = guardrail_alarm_prefix(function.function_name)
        period = Duration.seconds(period_seconds)

        # Unhandled errors and throttles of the alias: the handler's own 5xx answers are not
        # Lambda Errors, so these catch crashes and capacity problems, not bad predictions.
        self.alias_errors = cloudwatch.Alarm(
            self,
            "AliasErrors",
            alarm_name=f"{prefix}live-errors",
            alarm_description="modelship guardrail: unhandled errors of the live alias",
            metric=alias.metric_errors(period=period, statistic="Sum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alias_throttles = cloudwatch.Alarm(
            self,
            "AliasThrottles",
            alarm_name=f"{prefix}live-throttles",
            alarm_description="modelship guardrail: throttled invocations of the live alias",
            metric=alias.metric_throttles(period=period, statistic="Sum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        # The handler's own error rate over all model versions (the metrics carry only the
        # `service` dimension here; see docs/operations.md).
        def service_metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=names.METRICS_NAMESPACE,
                metric_name=metric_name,
                dimensions_map={"service": names.PREDICT_SERVICE_NAME},
                statistic="Sum",
                period=period,
            )

        self.prediction_error_rate = cloudwatch.Alarm(
            self,
            "PredictionErrorRate",
            alarm_name=f"{prefix}prediction-error-rate",
            alarm_description=(
                f"modelship guardrail: predict error rate above {error_rate_percent:g}% "
                "across all model versions"
            ),
            metric=cloudwatch.MathExpression(
                expression="100 * errors / requests",
                using_metrics={
                    "errors": service_metric(names.METRIC_PREDICTION_ERRORS),
                    "requests": service_metric(names.METRIC_REQUESTS),
                },
                label="predict error rate (%)",
                period=period,
            ),
            threshold=error_rate_percent,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        rollback_target = targets.LambdaFunction(
            rollback_function, retry_attempts=4, max_event_age=Duration.hours(1)
        )
        self.alarm_rule = events.Rule(
            self,
            "GuardrailAlarmRule",
            description="guardrail alarm in ALARM -> modelship rollback",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "alarmName": events.Match.prefix(prefix),
                    "state": {"value": ["ALARM"]},
                },
            ),
            targets=[rollback_target],
        )
        self.rollout_rule = events.Rule(
            self,
            "AbandonedRolloutRule",
            description="rollout FAILED / ABORTED / TIMED_OUT -> modelship rollback",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ABANDONED_ROLLOUT_STATUSES,
                    "stateMachineArn": [release_machine.state_machine_arn],
                },
            ),
            targets=[rollback_target],
        )

    def watch_rollouts_of(self, machine: sfn.IStateMachine) -> None:
        """Another state machine that runs canaries (retraining): its abandoned executions
        go to the rollback function too."""
        self.rollout_rule.add_event_pattern(detail={"stateMachineArn": [machine.state_machine_arn]})
