"""The retraining pipeline: task functions, the state machine, its triggers and its topic.

prepare -> train -> evaluate -> gate -> (rejected: notify) | register -> create release ->
canary chain (the same chain as the release state machine) -> notify. Every task has a
timeout and retries transient Lambda errors with backoff; any failure before the release
notifies and fails without touching the registry or the alias (register is the first write,
and it runs only after the gate passed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, ArnFormat, Duration, RemovalPolicy, Size, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct, IConstruct

from infra_cdk.async_failures import AsyncFailures
from infra_cdk.bucket_access import grant_prefix_read
from infra_cdk.release_chain import build_release_chain, with_transient_retries
from infra_cdk.resource_names import (
    retrain_state_machine_name,
    training_job_prefix,
    vended_log_group_name,
)
from infra_cdk.settings import SettingsError
from infra_cdk.task_function import FunctionBase, task_function
from modelship import names
from modelship.releases.plan import InvalidRolloutPlan, parse_plan

PIPELINE_MODULE = "functions.retraining.app"
TRIGGER_HANDLER = "functions.retraining.trigger.lambda_handler"
TRAINING_BACKENDS = ("lambda", "sagemaker")
DEFAULT_RELEASE_PLAN = [{"weight": 0.1, "bake_seconds": 600}, {"weight": 0.5, "bake_seconds": 600}]
# SageMaker training instance types are ml.<family>.<size>, e.g. ml.m5.xlarge, ml.g5.2xlarge.
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9-]+\.[a-z0-9]+$")


class RetrainingSettingsError(SettingsError):
    """A retraining context value is invalid; the message names the key."""


@dataclass(frozen=True)
class RetrainingOptions:
    """Context keys of the retraining pipeline (documented in docs/retraining.md)."""

    schedule: str = ""  # "" = off; else an EventBridge expression: rate(7 days), cron(...)
    training_backend: str = "lambda"
    algorithm: str = "logistic_regression"
    params: str = "{}"
    quality_gates: str = "{}"
    release_plan: tuple[dict[str, float], ...] = tuple(DEFAULT_RELEASE_PLAN)
    drift_threshold_percent: float = 5.0
    train_memory_mb: int = 3008
    sagemaker_instance_type: str = "ml.m5.xlarge"
    sagemaker_image_uri: str = ""

    @classmethod
    def from_context(cls, node: Any) -> RetrainingOptions:
        def get(key: str, default: Any) -> Any:
            value = node.try_get_context(key)
            return default if value is None or value == "" else value

        schedule = str(get("retrainSchedule", ""))
        if schedule and not re.fullmatch(r"(rate|cron)\(.+\)", schedule):
            raise RetrainingSettingsError(
                f"retrainSchedule {schedule!r} must be rate(...) or cron(...), or empty for off"
            )
        backend = str(get("trainingBackend", "lambda"))
        if backend not in TRAINING_BACKENDS:
            raise RetrainingSettingsError(f"trainingBackend must be one of {TRAINING_BACKENDS}")
        params = get("trainingParams", {})
        gates = get("qualityGates", {})
        for key, value in (("trainingParams", params), ("qualityGates", gates)):
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    raise RetrainingSettingsError(f"{key} must be a JSON object") from None
            if not isinstance(value, dict):
                raise RetrainingSettingsError(f"{key} must be a JSON object")
        params_json = params if isinstance(params, str) else json.dumps(params)
        gates_json = gates if isinstance(gates, str) else json.dumps(gates)
        image = str(get("sagemakerImageUri", ""))
        if backend == "sagemaker" and not image:
            raise RetrainingSettingsError(
                "trainingBackend=sagemaker needs sagemakerImageUri: a training image with the "
                "layer's scikit-learn version (see docs/retraining.md)"
            )
        try:
            threshold = float(get("driftThresholdPercent", 5.0))
            memory = int(get("trainMemoryMb", 3008))
        except (TypeError, ValueError):
            raise RetrainingSettingsError(
                "driftThresholdPercent and trainMemoryMb must be numbers"
            ) from None
        if not 128 <= memory <= 10240:
            raise RetrainingSettingsError("trainMemoryMb must be between 128 and 10240")
        # The alarm compares the share of out-of-range inputs, a percentage, with it.
        if not 0 < threshold <= 100:
            raise RetrainingSettingsError(
                f"driftThresholdPercent must be above 0 and at most 100, got {threshold:g}"
            )
        algorithm = str(get("trainingAlgorithm", "logistic_regression"))
        if algorithm not in names.TRAINING_ALGORITHMS:
            raise RetrainingSettingsError(
                f"trainingAlgorithm {algorithm!r} is unknown; choose one of "
                f"{', '.join(names.TRAINING_ALGORITHMS)}"
            )
        instance_type = str(get("sagemakerInstanceType", "ml.m5.xlarge"))
        if not _INSTANCE_TYPE.match(instance_type):
            raise RetrainingSettingsError(
                f"sagemakerInstanceType {instance_type!r} must be a SageMaker instance type "
                "such as ml.m5.xlarge"
            )
        return cls(
            schedule=schedule,
            training_backend=backend,
            algorithm=algorithm,
            params=params_json,
            quality_gates=gates_json,
            release_plan=parse_release_plan(str(get("releasePlan", "10:10m,50:10m,100"))),
            drift_threshold_percent=threshold,
            train_memory_mb=memory,
            sagemaker_instance_type=instance_type,
            sagemaker_image_uri=image,
        )


def parse_release_plan(text: str) -> tuple[dict[str, float], ...]:
    """`10:10m,50:10m,100` -> canary steps; the final 100 (promote) is implied by the chain.
    The grammar is `modelship.releases.plan`'s, the same the CLI and the runtime read."""
    try:
        return tuple(step.as_input() for step in parse_plan(text, name="releasePlan"))
    except InvalidRolloutPlan as exc:
        raise RetrainingSettingsError(str(exc)) from None


def _logical_id(construct: IConstruct) -> str:
    child = construct.node.default_child
    assert child is not None
    return Stack.of(construct).get_logical_id(child)  # type: ignore[arg-type]


def _acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


class RetrainingPipeline(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        options: RetrainingOptions,
        model_name: str,
        bucket: s3.IBucket,
        predict_function: lambda_.IFunction,
        alias: lambda_.IAlias,
        release_function: lambda_.IFunction,
        layer: lambda_.ILayerVersion,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        code: lambda_.Code,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.options = options
        self.model_name = model_name
        self.bucket = bucket
        self.topic = sns.Topic(
            self,
            "OutcomeTopic",
            display_name=f"modelship retraining outcomes ({model_name})",
            master_key=None,
            enforce_ssl=True,
        )
        _acknowledge(
            self.topic,
            "AwsSolutions-SNS2",
            "Outcome notices carry model versions, metrics and gate reasons, no customer data; "
            "SSE with the AWS managed key would block EventBridge/CloudWatch publishers later.",
        )
        environment = {
            names.ENV_MODEL_BUCKET: bucket.bucket_name,
            names.ENV_MODEL_NAME: model_name,
            names.ENV_PREDICT_FUNCTION: predict_function.function_name,
            names.ENV_ALIAS_NAME: alias.alias_name,
            names.ENV_RELEASE_BUCKET: bucket.bucket_name,
            names.ENV_TRAINING_ALGORITHM: options.algorithm,
            names.ENV_TRAINING_PARAMS: options.params,
            names.ENV_QUALITY_GATES: options.quality_gates,
            names.ENV_RELEASE_PLAN: json.dumps(list(options.release_plan)),
            names.ENV_NOTIFY_TOPIC: self.topic.topic_arn,
        }

        base = FunctionBase(code, layer, runtime, architecture, log_retention)

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
            self._roles.append(role)
            return created

        self._roles: list[iam.Role] = []
        self.state_machine_name = retrain_state_machine_name(Stack.of(self).stack_name, model_name)
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
            self.collect = function(
                "CollectCandidate", f"{PIPELINE_MODULE}.collect_candidate", 1024, minutes(10), 2048
            )
            self.collect.add_to_role_policy(
                iam.PolicyStatement(
                    sid="ReadTrainingOutput",
                    actions=["s3:GetObject"],
                    resources=[bucket.arn_for_objects(f"candidates/{model_name}/*")],
                )
            )
            self.collect.add_to_role_policy(
                iam.PolicyStatement(
                    sid="WriteCandidate",
                    actions=["s3:PutObject"],
                    resources=[bucket.arn_for_objects(f"candidates/{model_name}/*")],
                )
            )
        self.state_machine = self._state_machine(release_function, log_retention)
        self.trigger = self._triggers(base)
        self.drift_alarm = self._drift_alarm(predict_function)
        self._acknowledge_scoped_wildcards(predict_function, release_function)

    def _acknowledge_scoped_wildcards(
        self, predict_function: lambda_.IFunction, release_function: lambda_.IFunction
    ) -> None:
        """cdk-nag IAM5 findings are acknowledged one resource pattern at a time."""
        bucket = f"<{_logical_id(self.bucket)}.Arn>"
        function = _logical_id(predict_function)
        name = self.model_name
        scoped = {
            f"{bucket}/{names.DATASETS_PREFIX}/{name}/*": "datasets of this model only",
            f"{bucket}/{names.MODELS_PREFIX}/{name}/*": "versions of this model only",
            f"{bucket}/candidates/{name}/*": "challengers of this model only",
            f"{bucket}/retraining/{name}/*": "gate decisions of this model only",
            f"{bucket}/{names.RELEASES_PREFIX}/<{function}>/*": "this function's release history",
            f"<{function}.Arn>:*": "published versions of the one predict function",
            "*": "X-Ray supports no resource-level permissions",
        }
        for role in self._roles:
            for resource, reason in scoped.items():
                _acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
        machine_role = self.state_machine.role
        tasks_fns: list[lambda_.IFunction] = [
            self.prepare,
            self.train,
            self.evaluate,
            self.gate,
            self.register,
        ]
        tasks_fns += [self.create_release, self.notify, release_function]
        if self.collect is not None:
            tasks_fns.append(self.collect)
        for fn in tasks_fns:
            _acknowledge(
                machine_role,
                f"AwsSolutions-IAM5[Resource::<{_logical_id(fn)}.Arn>:*]",
                "Generated by CDK for Lambda tasks: versions of this task function only.",
            )
        _acknowledge(
            machine_role,
            "AwsSolutions-IAM5[Resource::*]",
            "Log delivery and X-Ray support no resource-level permissions.",
        )
        if self.options.training_backend == "sagemaker":
            _acknowledge(
                machine_role,
                "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:sagemaker:<AWS::Region>:"
                "<AWS::AccountId>:training-job/*]",
                "Generated by CDK for the .sync integration: describe/stop the jobs it starts.",
            )

    # ---- permissions, one statement per need

    def _grant(self, predict_function: lambda_.IFunction) -> None:
        bucket, name = self.bucket, self.model_name
        datasets = f"{names.DATASETS_PREFIX}/{name}/"
        models = f"{names.MODELS_PREFIX}/{name}/"
        candidates = f"candidates/{name}/"
        runs = f"retraining/{name}/"
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

    # ---- the state machine

    def _task(
        self,
        state_id: str,
        fn: lambda_.IFunction,
        timeout: Duration,
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
            self,
            state_id,
            lambda_function=fn,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
            task_timeout=sfn.Timeout.duration(timeout),
        )
        return with_transient_retries(task)

    def _notify(self, state_id: str, outcome: str | None, then: sfn.IChainable) -> sfn.Chain:
        """Sets $.release.outcome (when the run reached the release), publishes the outcome,
        then goes on to `then`; a lost notice does not change how the run ends."""
        notify = self._task(
            f"Notify{state_id}",
            self.notify,
            Duration.minutes(1),
            whole_input=True,
            result_path="$.notice",
        )
        notify.add_catch(
            sfn.Pass(self, f"Notify{state_id}Lost").next(then),
            errors=["States.ALL"],
            result_path="$.notifyError",
        )
        notify.next(then)
        if outcome is None:
            return sfn.Chain.start(notify)
        mark = sfn.Pass(
            self,
            f"Mark{state_id}",
            result=sfn.Result.from_object({"outcome": outcome}),
            result_path="$.release",
        )
        return mark.next(notify)

    def _state_machine(
        self,
        release_function: lambda_.IFunction,
        log_retention: logs.RetentionDays,
    ) -> sfn.StateMachine:
        minutes = Duration.minutes
        failed = sfn.Fail(
            self, "RetrainingFailed", error="RetrainingFailed", cause_path="$.error.Cause"
        )
        notify_failed = self._notify("Failed", None, failed)

        prepare = self._task("Prepare", self.prepare, minutes(5), whole_input=True)
        train = self._train_task()
        steps: list[Any] = [prepare, train]
        if self.collect is not None:
            collect = self._task("CollectCandidate", self.collect, minutes(10))
            steps.append(collect)
        evaluate = self._task("Evaluate", self.evaluate, minutes(10))
        gate = self._task("Gate", self.gate, minutes(1))
        register = self._task("Register", self.register, minutes(5))
        create_release = self._task("CreateRelease", self.create_release, minutes(5))
        steps += [evaluate, gate, register, create_release]
        for step in steps:
            step.add_catch(notify_failed, errors=["States.ALL"], result_path="$.error")

        rejected = self._notify(
            "Rejected", None, sfn.Succeed(self, "Rejected", comment="the gates kept the champion")
        )
        rolled_back = sfn.Fail(
            self, "CanaryRolledBack", error="RolloutFailed", cause_path="$.error.Cause"
        )
        rollback_failed = sfn.Fail(
            self,
            "CanaryRollbackFailed",
            error="RollbackFailed",
            cause="the rollback task failed; the rollback function retries from the execution's "
            "FAILED event. Check `modelship status`",
        )
        chain = build_release_chain(
            self,
            release_function=release_function,
            on_promoted=self._notify(
                "Promoted",
                "promoted",
                sfn.Succeed(self, "Promoted", comment="the challenger serves all traffic"),
            ),
            on_rolled_back=self._notify("RolledBack", "rolled_back", rolled_back),
            on_rollback_failed=rollback_failed,
        )
        passed = sfn.Choice(self, "GatesPassed?")
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
            self,
            "StateMachineLogs",
            log_group_name=vended_log_group_name(self.state_machine_name),
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        machine = sfn.StateMachine(
            self,
            "StateMachine",
            # A fixed name lets the trigger's role name its executions without a wildcard.
            state_machine_name=self.state_machine_name,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.hours(48),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
            comment=f"modelship retraining ({self.model_name}): prepare, train, evaluate, gate, "
            "register, release",
        )
        return machine

    def _train_task(self) -> tasks.LambdaInvoke | tasks.SageMakerCreateTrainingJob:
        """The Lambda trainer, or a SageMaker training job (.sync) for datasets past Lambda's
        15 minutes / 10 GB (its output is filed as the candidate by the next task)."""
        if self.options.training_backend == "lambda":
            return self._task("Train", self.train, Duration.minutes(15))
        return self._sagemaker_train()

    def _sagemaker_train(self) -> tasks.SageMakerCreateTrainingJob:
        options, name = self.options, self.model_name
        output_prefix = f"candidates/{name}/sagemaker/"
        # The image runs `python -m modelship.training.sagemaker_entry`
        # (layers/sagemaker/Dockerfile).
        hyperparameters: dict[str, Any] = {
            "model_name": name,
            "algorithm": options.algorithm,
            "params": options.params,
            "run_id": sfn.JsonPath.string_at("$.run_id"),
            "data_uri": sfn.JsonPath.string_at("$.data_uri"),
            "data_etag": sfn.JsonPath.string_at("$.dataset.etag"),
            "parent_version": sfn.JsonPath.string_at("$.parent_version"),
        }
        return tasks.SageMakerCreateTrainingJob(
            self,
            "Train",
            role=self._training_job_role(output_prefix),
            # SageMaker wants job names unique in the account and Region for good, while a run
            # id repeats (a re-uploaded dataset after 90 days, a recreated stack): the MD5 of
            # the execution, the state's entry time and the retry makes each attempt unique;
            # the prefix says which stack and model. 63 characters at most, [a-zA-Z0-9-].
            training_job_name=sfn.JsonPath.format(
                training_job_prefix(Stack.of(self).stack_name, name) + "-{}",
                sfn.JsonPath.hash(
                    sfn.JsonPath.format(
                        "{}/{}/{}",
                        sfn.JsonPath.string_at("$$.Execution.Id"),
                        sfn.JsonPath.string_at("$$.State.EnteredTime"),
                        sfn.JsonPath.string_at("$$.State.RetryCount"),
                    ),
                    "MD5",
                ),
            ),
            integration_pattern=sfn.IntegrationPattern.RUN_JOB,
            algorithm_specification=tasks.AlgorithmSpecification(
                training_image=tasks.DockerImage.from_registry(options.sagemaker_image_uri),
                training_input_mode=tasks.InputMode.FILE,
            ),
            input_data_config=[
                tasks.Channel(
                    channel_name="train",
                    content_type="text/csv",
                    data_source=tasks.DataSource(
                        s3_data_source=tasks.S3DataSource(
                            s3_location=_S3Uri(sfn.JsonPath.string_at("$.data_uri")),
                            s3_data_type=tasks.S3DataType.S3_PREFIX,
                        )
                    ),
                )
            ],
            output_data_config=tasks.OutputDataConfig(
                s3_output_location=_S3Uri(f"s3://{self.bucket.bucket_name}/{output_prefix}")
            ),
            resource_config=tasks.ResourceConfig(
                instance_count=1,
                instance_type=ec2_instance_type(options.sagemaker_instance_type),
                volume_size=Size.gibibytes(100),
            ),
            stopping_condition=tasks.StoppingCondition(max_runtime=Duration.hours(24)),
            hyperparameters=hyperparameters,
            result_path="$.sagemaker",
            task_timeout=sfn.Timeout.duration(Duration.hours(24)),
        )

    def _training_job_role(self, output_prefix: str) -> iam.Role:
        """What a training job needs: its data, its output prefix, its logs, its image."""
        stack = Stack.of(self)
        datasets = f"{names.DATASETS_PREFIX}/{self.model_name}/"
        role = iam.Role(
            self,
            "TrainingJobRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"modelship SageMaker training ({self.model_name})",
        )
        grant_prefix_read(
            role, self.bucket, datasets, read_sid="ReadDatasets", list_sid="ListDatasets"
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOutput",
                actions=["s3:PutObject"],
                resources=[self.bucket.arn_for_objects(f"{output_prefix}*")],
            )
        )
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name="/aws/sagemaker/TrainingJobs:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="Logs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PullImage",
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[ecr_repository_arn(self.options.sagemaker_image_uri, stack.partition)],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]
            )
        )
        bucket = f"<{_logical_id(self.bucket)}.Arn>"
        for resource, reason in {
            f"{bucket}/{datasets}*": "datasets of this model only",
            f"{bucket}/{output_prefix}*": "this model's training output only",
            "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:"
            "/aws/sagemaker/TrainingJobs:*": "SageMaker's fixed log group for training jobs",
            "*": "ecr:GetAuthorizationToken has no resource-level permissions",
        }.items():
            _acknowledge(role, f"AwsSolutions-IAM5[Resource::{resource}]", reason)
        return role

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
        _acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:"
            f"<AWS::AccountId>:execution:{self.state_machine_name}:*]",
            "Executions of this one state machine, looked up by name to drop duplicate events.",
        )
        _acknowledge(role, "AwsSolutions-IAM5[Resource::*]", "X-Ray: no resource-level permissions")
        self.trigger_failures = AsyncFailures(
            self,
            "TriggerFailures",
            function=trigger,
            alarm_name=f"{names.OPS_ALARM_PREFIX}{Stack.of(self).stack_name}-"
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

    def _drift_alarm(self, predict_function: lambda_.IFunction) -> cloudwatch.Alarm:
        """Share of numeric inputs outside the training range, across all model versions;
        sustained drift starts a retraining run."""

        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=names.METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": names.PREDICT_SERVICE_NAME},
                statistic="Sum",
                period=Duration.hours(1),
            )

        drift = cloudwatch.MathExpression(
            expression="100 * outside / IF(numeric > 0, numeric, 1)",
            using_metrics={
                "outside": metric(names.METRIC_OUT_OF_RANGE_VALUES),
                "numeric": metric(names.METRIC_NUMERIC_VALUES),
            },
            label="inputs outside the training range (%)",
            period=Duration.hours(1),
        )
        alarm = cloudwatch.Alarm(
            self,
            "DriftAlarm",
            alarm_name=f"modelship-drift-{predict_function.function_name}",
            alarm_description=f"input drift for {self.model_name}: starts retraining",
            metric=drift,
            threshold=self.options.drift_threshold_percent,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
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
        return alarm


class _S3Uri(tasks.S3Location):
    """An s3:// URI for a training job, granting nothing: the training job role's own
    statements scope reads to the model's datasets and writes to its output prefix (CDK's
    locations grant s3:GetObject and s3:ListBucket on `*` for a JSON path, and render an
    https:// URL for a bucket, which S3OutputPath refuses)."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        self._uri = uri

    def bind(
        self,
        task: tasks.ISageMakerTask,
        *,
        for_reading: bool | None = None,
        for_writing: bool | None = None,
    ) -> tasks.S3LocationConfig:
        return tasks.S3LocationConfig(uri=self._uri)


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag> -> the repository's ARN."""
    match = re.match(
        r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/([^:@]+)", image_uri
    )
    if not match:
        raise RetrainingSettingsError(
            f"sagemakerImageUri {image_uri!r} is not an ECR image "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
        )
    account, region, repository = match.groups()
    return f"arn:{partition}:ecr:{region}:{account}:repository/{repository}"


def ec2_instance_type(name: str) -> Any:
    from aws_cdk import aws_ec2 as ec2

    return ec2.InstanceType(name.removeprefix("ml."))
