"""One model's drift monitor: the scheduled function that judges its captured rows against
the training profile, the rule that runs it, and the alarm on its DriftScore.

The function reads the `live` alias (which Lambda version is stable, the model version it
pins), the model's manifest, its captures and its drift checkpoint, and writes reports and
the checkpoint under monitoring/<model>/drift/; nothing else. The alarm (DriftScore >=
driftPsiThreshold over one schedule interval; a window with too few rows emits no score and
counts as not breaching) is what the retraining pipeline's drift rule listens to; without
retraining it still shows drift to operators and on the dashboard.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk import nag
from infra_cdk.async_failures import AsyncFailures
from infra_cdk.drift_settings import DriftOptions
from infra_cdk.task_function import FunctionBase, task_function
from modelship import names

MONITOR_MEMORY_MB = 1024
MONITOR_TIMEOUT = Duration.minutes(5)


class DriftMonitor(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: DriftOptions,
        stack_name: str,
        model_name: str,
        bucket: s3.IBucket,
        predict_function: lambda_.IFunction,
        alias: lambda_.IAlias,
        base: FunctionBase,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        self.function, self.role = task_function(
            self,
            "Monitor",
            base=base,
            handler=names.MONITOR_HANDLER,
            description=f"modelship drift monitor ({model_name})",
            role_description=f"modelship drift monitor ({model_name})",
            environment={
                names.ENV_MODEL_BUCKET: bucket.bucket_name,
                names.ENV_MODEL_NAME: model_name,
                names.ENV_PREDICT_FUNCTION: predict_function.function_name,
                names.ENV_ALIAS_NAME: alias.alias_name,
                names.ENV_POWERTOOLS_SERVICE_NAME: names.MONITOR_SERVICE_NAME,
                names.ENV_POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
                **options.environment(),
            },
            memory_mb=MONITOR_MEMORY_MB,
            timeout=MONITOR_TIMEOUT,
        )
        self._grant(bucket, predict_function, model_name)
        nag.drift_monitor_role(self.role, bucket, predict_function, model_name)
        self.failures = AsyncFailures(
            self,
            "Failures",
            function=self.function,
            alarm_name=f"{names.OPS_ALARM_PREFIX}{stack_name}-drift-{model_name}-dlq",
            what=f"drift monitor ({model_name})",
        )
        self.schedule = events.Rule(
            self,
            "Schedule",
            description=f"runs the drift monitor of {model_name}",
            schedule=events.Schedule.expression(options.schedule),
            targets=[self.failures.target()],
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=names.drift_alarm_name(predict_function.function_name),
            alarm_description=f"drift of {model_name}'s inputs or predictions (docs/"
            "monitoring.md); with retraining on, ALARM starts a retraining run",
            metric=cloudwatch.Metric(
                namespace=names.METRICS_NAMESPACE,
                metric_name=names.METRIC_DRIFT_SCORE,
                dimensions_map={
                    "service": names.MONITOR_SERVICE_NAME,
                    names.METRIC_DIMENSION_MODEL: model_name,
                },
                statistic="Maximum",
                period=Duration.seconds(options.alarm_period_seconds),
            ),
            threshold=options.psi_threshold,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _grant(
        self, bucket: s3.IBucket, predict_function: lambda_.IFunction, model_name: str
    ) -> None:
        captures = names.capture_prefix(model_name)
        models = f"{names.MODELS_PREFIX}/{model_name}/"
        reports = f"{names.MONITORING_PREFIX}/{model_name}/"
        statements = [
            iam.PolicyStatement(
                sid="ReadCapturesModelsReports",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(p + "*") for p in (captures, models, reports)],
            ),
            # Lists the capture hour folders; a missing checkpoint is 404 (not 403) only to a
            # role that may list its key.
            iam.PolicyStatement(
                sid="ListCapturesAndReports",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [captures + "*", reports + "*"]}},
            ),
            iam.PolicyStatement(
                sid="WriteReports",
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(reports + "*")],
            ),
            # GetAlias is authorized on the unqualified function ARN, GetFunctionConfiguration
            # with a Qualifier on the qualified one (Lambda's "Actions, resources, and
            # condition keys"): the stable version's environment names its model version.
            iam.PolicyStatement(
                sid="ReadLiveAlias",
                actions=["lambda:GetAlias"],
                resources=[predict_function.function_arn],
            ),
            iam.PolicyStatement(
                sid="ReadReleases",
                actions=["lambda:GetFunctionConfiguration"],
                resources=[f"{predict_function.function_arn}:*"],
            ),
        ]
        for statement in statements:
            self.function.add_to_role_policy(statement)
