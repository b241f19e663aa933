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
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk.async_failures import AsyncFailures
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
        rollback_failures: AsyncFailures,
        release_machine: sfn.IStateMachine,
        model_name: str,
        error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
        min_requests: int = names.DEFAULT_GUARDRAIL_MIN_REQUESTS,
        throttle_rate_percent: float = names.DEFAULT_GUARDRAIL_THROTTLE_RATE_PERCENT,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = names.guardrail_alarm_prefix(function.function_name)
        period = Duration.seconds(period_seconds)
        # A period is judged only with at least `min_requests` requests in it (otherwise the
        # rate reads 0), and settings keep min_requests x each threshold >= 100%, so a single
        # failed or throttled request never crosses a threshold on its own.
        judged = f"{min_requests:d}"

        def alarm(
            construct_id: str,
            name: str,
            description: str,
            expression: str,
            metrics: dict[str, cloudwatch.IMetric],
            threshold: float,
        ) -> cloudwatch.Alarm:
            return cloudwatch.Alarm(
                self,
                construct_id,
                alarm_name=f"{prefix}{name}",
                alarm_description=f"modelship guardrail: {description}",
                metric=cloudwatch.MathExpression(
                    expression=expression, using_metrics=metrics, label=description, period=period
                ),
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        # Unhandled errors and throttles of the alias, as a share of its invocations: the
        # handler answers bad input with 4xx, which are not Lambda Errors, so these count
        # crashes, timeouts and capacity problems only. Lambda may publish no Errors or
        # Throttles datapoint in a period without any; FILL reads that as 0.
        alias_metrics = {
            "invocations": alias.metric_invocations(period=period, statistic="Sum"),
            "errors": alias.metric_errors(period=period, statistic="Sum"),
            "throttles": alias.metric_throttles(period=period, statistic="Sum"),
        }
        self.alias_errors = alarm(
            "AliasErrors",
            "live-errors",
            f"unhandled errors of the live alias above {error_rate_percent:g}% of its "
            f"invocations (periods with {judged}+ invocations)",
            f"IF(FILL(invocations, 0) >= {judged}, "
            "100 * FILL(errors, 0) / FILL(invocations, 0), 0)",
            {k: alias_metrics[k] for k in ("invocations", "errors")},
            error_rate_percent,
        )
        requested = "FILL(invocations, 0) + FILL(throttles, 0)"
        self.alias_throttles = alarm(
            "AliasThrottles",
            "live-throttles",
            f"throttled requests of the live alias above {throttle_rate_percent:g}% "
            f"(periods with {judged}+ requests)",
            f"IF({requested} >= {judged}, 100 * FILL(throttles, 0) / ({requested}), 0)",
            {k: alias_metrics[k] for k in ("invocations", "throttles")},
            throttle_rate_percent,
        )

        # The handler's own error rate over all versions of this model: PredictionErrors counts
        # 5xx answers only, never 4xx (modelship.serving.observability). The metrics carry the
        # `service` and `Model` dimensions here, so models of one deployment never mix; see
        # docs/operations.md.
        def service_metric(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=names.METRICS_NAMESPACE,
                metric_name=metric_name,
                dimensions_map={
                    "service": names.PREDICT_SERVICE_NAME,
                    names.METRIC_DIMENSION_MODEL: model_name,
                },
                statistic="Sum",
                period=period,
            )

        self.prediction_error_rate = alarm(
            "PredictionErrorRate",
            "prediction-error-rate",
            f"predict error rate above {error_rate_percent:g}% across all model versions "
            f"(periods with {judged}+ requests)",
            f"IF(requests >= {judged}, 100 * FILL(errors, 0) / requests, 0)",
            {
                "errors": service_metric(names.METRIC_PREDICTION_ERRORS),
                "requests": service_metric(names.METRIC_REQUESTS),
            },
            error_rate_percent,
        )

        # Undeliverable events wait in the rollback function's dead-letter queue.
        rollback_target = rollback_failures.target()
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
