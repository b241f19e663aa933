"""Where failed asynchronous invocations go, and the alarms that say so.

EventBridge invokes the rollback and retraining trigger functions asynchronously. Two things
can fail: EventBridge cannot deliver the event (after its retries), or the function fails
(after Lambda's own retries). Either way the event lands in one encrypted, TLS-only SQS queue
per function instead of being dropped, and an alarm on the queue's depth says it happened.
EventBridge writes through the queue policy CDK adds for each rule (aws:SourceArn); Lambda
writes with the function's role, which may only sqs:SendMessage to that queue.
"""

from __future__ import annotations

import jsii
from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra_cdk import nag

# Lambda retries a failed asynchronous invocation at most twice; events older than an hour
# are no longer worth acting on (an alarm or a rollout that old has been handled by hand).
FUNCTION_RETRY_ATTEMPTS = 2
EVENTBRIDGE_RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(1)
QUEUE_RETENTION = Duration.days(14)
DEPTH_PERIOD = Duration.minutes(5)


@jsii.implements(lambda_.IDestination)
class _QueueDestination:
    """An on-failure destination that grants nothing: the role's own statement allows exactly
    sqs:SendMessage (CDK's SqsDestination also grants GetQueueAttributes and GetQueueUrl)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self._queue = queue

    def bind(
        self,
        scope: Construct,
        fn: lambda_.IFunction,
        *,
        type: lambda_.DestinationType | None = None,
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self._queue.queue_arn)


class AsyncFailures(Construct):
    """A dead-letter queue for one asynchronously invoked function, its retry settings and
    an alarm on the queue's depth."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        alarm_name: str,
        what: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
        )
        nag.dead_letter_queue(self.queue, what)
        function.configure_async_invoke(
            on_failure=_QueueDestination(self.queue),
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="FailedInvocations",
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
            )
        )
        self.depth_alarm = cloudwatch.Alarm(
            self,
            "DepthAlarm",
            alarm_name=alarm_name,
            alarm_description=f"modelship: failed invocations of the {what} wait in its "
            "dead-letter queue (see docs/operations.md)",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=DEPTH_PERIOD, statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def target(self) -> targets.LambdaFunction:
        """An EventBridge target for the function whose undeliverable events go to the queue."""
        return targets.LambdaFunction(
            self.function,
            retry_attempts=EVENTBRIDGE_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            dead_letter_queue=self.queue,
        )
