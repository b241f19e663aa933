"""The retraining pipeline: task functions, the state machine, its triggers and its topic.

The state machine is built in retraining_machine.py, the SageMaker training backend in
sagemaker_training.py; new data in S3, a schedule or the drift alarm (the drift monitor's,
infra_cdk/drift_monitor.py) start a run through one trigger function.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra_cdk import nag
from infra_cdk.async_failures import AsyncFailures
from infra_cdk.resource_names import retrain_state_machine_name
from infra_cdk.retraining_machine import RetrainingTasks, lambda_task, retraining_state_machine
from infra_cdk.sagemaker_training import sagemaker_train_task
from infra_cdk.settings import RetrainingOptions
from infra_cdk.task_function import FunctionBase, task_function
from modelship import names

PIPELINE_MODULE = "functions.retraining.app"
TRIGGER_HANDLER = "functions.retraining.trigger.lambda_handler"


class RetrainingPipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: RetrainingOptions,
        stack_name: str,
        model_name: str,
        bucket: s3.IBucket,
        predict_function: lambda_.IFunction,
        alias: lambda_.IAlias,
        release_function: lambda_.IFunction,
        base: FunctionBase,
        drift_alarm: cloudwatch.IAlarm | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        # The deployment's stack name: in a nested stack, Stack.of(self).stack_name is the
        # nested stack's own generated name.
        self.stack_name = stack_name
        self.model_name = model_name
        self.bucket = bucket
        self.topic = sns.Topic(
            self,
            "OutcomeTopic",
            display_name=f"modelship retraining outcomes ({model_name})",
            master_key=None,
            enforce_ssl=True,
        )
        nag.outcome_topic(self.topic)
        environment = {
            names.ENV_MODEL_BUCKET: bucket.bucket_name,
            names.ENV_MODEL_NAME: model_name,
            names.ENV_PREDICT_FUNCTION: predict_function.function_name,
            names.ENV_ALIAS_NAME: alias.alias_name,
            names.ENV_RELEASE_BUCKET: bucket.bucket_name,
            names.ENV_TRAINING_ALGORITHM: options.algorithm,
            names.ENV_TRAINING_PARAMS: options.params,
            names.ENV_TRAINING_ENTRY_POINT: options.training_entry_point,
            names.ENV_QUALITY_GATES: options.quality_gates,
            names.ENV_RELEASE_PLAN: json.dumps(list(options.release_plan)),
            names.ENV_NOTIFY_TOPIC: self.topic.topic_arn,
        }
        if options.training_code:
            # Relative to the task root where Lambda unpacks the asset ($LAMBDA_TASK_ROOT).
            environment[names.ENV_TRAINING_CODE_DIR] = names.TRAINING_CODE_DIR_NAME

        def function(
            name: str, handler: str, memory: int, timeout: Duration, storage_mb: int = 512
        ) -> lambda_.Function:
            created, role = task_function(
                self,
                name,
                base=base,
                handler=handler,
                description=f"modelship retraining: {name} ({model_name})",
                role_description=f"modelship retraining {name} ({model_name})",
                environment={**environment, names.ENV_POWERTOOLS_SERVICE_NAME: "retraining"},
                memory_mb=memory,
                timeout=timeout,
                storage_mb=storage_mb,
                function_id=f"{name}Function",
            )
            nag.retraining_task_role(role, bucket, predict_function, model_name)
            return created

        self.state_machine_name = retrain_state_machine_name(stack_name, model_name)
        minutes = Duration.minutes
        self.prepare = function("Prepare", f"{PIPELINE_MODULE}.prepare", 2048, minutes(5), 2048)
        self.train = function(
            "Train", f"{PIPELINE_MODULE}.train", options.train_memory_mb, minutes(15), 4096
        )
        self.evaluate = function("Evaluate", f"{PIPELINE_MODULE}.evaluate", 2048, minutes(10), 4096)
        self.gate = function("Gate", f"{PIPELINE_MODULE}.gate", 256, minutes(1))
        self.register = function("Register", f"{PIPELINE_MODULE}.register", 1024, minutes(5), 2048)
        self.create_release = function(
            "CreateRelease", f"{PIPELINE_MODULE}.create_release", 512, minutes(5)
        )
        self.notify = function("Notify", f"{PIPELINE_MODULE}.notify", 256, minutes(1))
        self._grant(predict_function)

        self.collect = None
        if options.training_backend == "sagemaker":
            candidates = f"{names.CANDIDATES_PREFIX}/{model_name}/*"
            self.collect = function(
                "CollectCandidate", f"{PIPELINE_MODULE}.collect_candidate", 1024, minutes(10), 2048
            )
            self.collect.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadTrainingOutput",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(candidates)],
                )
            )
            self.collect.add_to_role_policy(
                iam.PolicyStatement(
                    sid="WriteCandidate",
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(candidates)],
                )
            )
        functions = RetrainingTasks(
            prepare=self.prepare,
            train=self.train,
            evaluate=self.evaluate,
            gate=self.gate,
            register=self.register,
            create_release=self.create_release,
            notify=self.notify,
            collect=self.collect,
        )
        self.state_machine = retraining_state_machine(
            self,
            functions=functions,
            train=self._train_step(),
            release_function=release_function,
            state_machine_name=self.state_machine_name,
            model_name=model_name,
            log_retention=base.log_retention,
        )
        nag.state_machine_role(self.state_machine.role, [*functions.all(), release_function])
        if options.training_backend == "sagemaker":
            nag.sagemaker_training_integration(self.state_machine.role)
        self.trigger = self._triggers(base)
        if drift_alarm is not None:
            self._drift_rule(drift_alarm)

    def _train_step(self) -> sfn.TaskStateBase:
        """The Lambda trainer, or a SageMaker training job (.sync) for datasets past Lambda's
        15 minutes / 10 GB (its output is filed as the candidate by the next task)."""
        if self.options.training_backend == "lambda":
            return lambda_task(self, "Train", self.train)
        return sagemaker_train_task(
            self,
            options=self.options,
            stack_name=self.stack_name,
            model_name=self.model_name,
            bucket=self.bucket,
        )

    # Permissions, one statement per need.
    def _grant(self, predict_function: lambda_.IFunction) -> None:
        bucket, name = self.bucket, self.model_name
        datasets = f"{names.DATASETS_PREFIX}/{name}/"
        models = f"{names.MODELS_PREFIX}/{name}/"
        candidates = f"{names.CANDIDATES_PREFIX}/{name}/"
        runs = f"{names.RETRAINING_RUNS_PREFIX}/{name}/"
        history = f"{names.RELEASES_PREFIX}/{predict_function.function_name}/"

        def objects(
            fn: lambda_.Function, sid: str, actions: list[str], prefixes: list[str]
        ) -> None:
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    sid=sid,
                    actions=actions,
                    resources=[bucket.arn_for_objects(p + "*") for p in prefixes],
                )
            )

        def listing(fn: lambda_.Function, prefixes: list[str]) -> None:
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ListPrefixes",
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={
                        "StringLike": {"s3:prefix": [p + "*" for p in prefixes] + prefixes}
                    },
                )
            )

        # Alias actions and PublishVersion are authorized on the unqualified function ARN;
        # GetFunctionConfiguration with a Qualifier on the qualified one (function:version).
        def read_live_alias(fn: lambda_.Function) -> None:
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadLiveAlias",
                    actions=["lambda:GetAlias"],
                    resources=[predict_function.function_arn],
                )
            )
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadReleases",
                    actions=["lambda:GetFunctionConfiguration"],
                    resources=[f"{predict_function.function_arn}:*"],
                )
            )

        objects(self.prepare, "ReadData", ["s3:GetObject"], [datasets, models])
        listing(self.prepare, [datasets, models])
        read_live_alias(self.prepare)
        objects(self.train, "ReadData", ["s3:GetObject"], [datasets])
        objects(self.train, "WriteCandidate", ["s3:PutObject"], [candidates])
        objects(self.evaluate, "ReadData", ["s3:GetObject"], [datasets, candidates, models])
        objects(self.gate, "RecordDecision", ["s3:PutObject"], [runs])
        objects(self.register, "ReadCandidate", ["s3:GetObject"], [candidates, models])
        objects(self.register, "PublishModel", ["s3:PutObject"], [models])
        # Publishing asks whether the version exists: S3 says 404 only to a role that may list.
        listing(self.register, [models])
        objects(self.create_release, "ReadModels", ["s3:GetObject"], [models, history])
        objects(self.create_release, "History", ["s3:PutObject"], [history])
        read_live_alias(self.create_release)
        # Releases.create reads and re-pins $LATEST (GetFunctionConfiguration without a
        # Qualifier), waits with botocore's function_updated_v2 waiter (GetFunction), then
        # publishes: all on the unqualified function ARN.
        self.create_release.add_to_role_policy(
            iam.PolicyStatement(
                sid="PublishRelease",
                actions=[
                    "lambda:GetFunctionConfiguration",
                    "lambda:UpdateFunctionConfiguration",
                    "lambda:GetFunction",
                    "lambda:PublishVersion",
                ],
                resources=[predict_function.function_arn],
            )
        )
        self.topic.grant_publish(self.notify)

    def _triggers(self, base: FunctionBase) -> lambda_.Function:
        """New data in S3, a schedule, or the drift alarm start a run through one function
        that names the execution after its cause (a repeated event starts nothing)."""
        trigger, role = task_function(
            self,
            "Trigger",
            base=base,
            handler=TRIGGER_HANDLER,
            description=f"modelship retraining trigger ({self.model_name})",
            role_description=f"modelship retraining trigger ({self.model_name})",
            environment={
                names.ENV_MODEL_NAME: self.model_name,
                names.ENV_RETRAIN_STATE_MACHINE: self.state_machine.state_machine_arn,
                names.ENV_POWERTOOLS_SERVICE_NAME: "retraining-trigger",
            },
            timeout=Duration.seconds(30),
        )
        self.state_machine.grant_start_execution(trigger)
        executions = Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{self.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        trigger.add_to_role_policy(
            iam.PolicyStatement(
                sid="SeeDuplicateRuns", actions=["states:DescribeExecution"], resources=[executions]
            )
        )
        nag.retraining_trigger_role(role, self.state_machine_name)
        self.trigger_failures = AsyncFailures(
            self,
            "TriggerFailures",
            function=trigger,
            alarm_name=f"{names.OPS_ALARM_PREFIX}{self.stack_name}-"
            f"retrain-{self.model_name}-trigger-dlq",
            what=f"retraining trigger ({self.model_name})",
        )
        events.Rule(
            self,
            "NewDatasetRule",
            description=f"a new dataset under datasets/{self.model_name}/ starts retraining",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.bucket.bucket_name]},
                    "object": {"key": [{"prefix": f"{names.DATASETS_PREFIX}/{self.model_name}/"}]},
                },
            ),
            targets=[self.trigger_failures.target()],
        )
        if self.options.schedule:
            events.Rule(
                self,
                "ScheduleRule",
                description=f"scheduled retraining of {self.model_name}",
                schedule=events.Schedule.expression(self.options.schedule),
                targets=[self.trigger_failures.target()],
            )
        return trigger

    def _drift_rule(self, alarm: cloudwatch.IAlarm) -> None:
        """The drift monitor's alarm entering ALARM starts a run (named after the alarm and
        the time of its state change, so a repeated event starts nothing)."""
        events.Rule(
            self,
            "DriftRule",
            description=f"the drift alarm of {self.model_name} starts retraining",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={"alarmName": [alarm.alarm_name], "state": {"value": ["ALARM"]}},
            ),
            targets=[self.trigger_failures.target()],
        )
