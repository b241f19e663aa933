"""The SageMaker training backend: a training job (.sync) in place of the Lambda trainer, for
datasets past Lambda's 15 minutes / 10 GB. Its output lands under the model's candidates
prefix, and the CollectCandidate task files it as the challenger."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Duration, Size, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra_cdk import nag
from infra_cdk.bucket_access import grant_prefix_read
from infra_cdk.resource_names import training_job_prefix
from infra_cdk.settings import RetrainingOptions, ecr_repository_arn
from modelship import names

# The training job's stopping condition, and how long the Train task waits past it.
TRAINING_MAX_RUNTIME = Duration.hours(24)
TRAINING_WIND_DOWN = Duration.hours(1)


def output_prefix(model_name: str) -> str:
    return f"{names.CANDIDATES_PREFIX}/{model_name}/sagemaker/"


def sagemaker_train_task(
    scope: Construct,
    *,
    options: RetrainingOptions,
    stack_name: str,
    model_name: str,
    bucket: s3.IBucket,
) -> tasks.SageMakerCreateTrainingJob:
    """The `Train` state, and the `TrainingJobRole` its jobs run as, in `scope`.
    `stack_name` is the deployment's (a nested stack's own name is a generated token)."""
    output = output_prefix(model_name)
    # The image runs `python -m modelship.retraining.sagemaker_entry`
    # (layers/sagemaker/Dockerfile). `entry_point` is the run's (Prepare puts the configured
    # one, or the run's override, in the state): "" trains the built-in algorithm.
    hyperparameters: dict[str, Any] = {
        "model_name": model_name,
        "algorithm": options.algorithm,
        "params": options.params,
        "run_id": sfn.JsonPath.string_at("$.run_id"),
        "data_uri": sfn.JsonPath.string_at("$.data_uri"),
        "data_etag": sfn.JsonPath.string_at("$.dataset.etag"),
        "parent_version": sfn.JsonPath.string_at("$.parent_version"),
        "entry_point": sfn.JsonPath.string_at("$.entry_point"),
    }
    return tasks.SageMakerCreateTrainingJob(
        scope,
        "Train",
        role=_training_job_role(scope, options, model_name, bucket, output),
        # SageMaker wants job names unique in the account and Region for good, while a run
        # id repeats (a re-uploaded dataset after 90 days, a recreated stack): the MD5 of
        # the execution, the state's entry time and the retry makes each attempt unique;
        # the prefix says which stack and model. 63 characters at most, [a-zA-Z0-9-].
        training_job_name=sfn.JsonPath.format(
            training_job_prefix(stack_name, model_name) + "-{}",
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
            s3_output_location=_S3Uri(f"s3://{bucket.bucket_name}/{output}")
        ),
        resource_config=tasks.ResourceConfig(
            instance_count=1,
            instance_type=_instance_type(options.sagemaker_instance_type),
            volume_size=Size.gibibytes(100),
        ),
        stopping_condition=tasks.StoppingCondition(max_runtime=TRAINING_MAX_RUNTIME),
        hyperparameters=hyperparameters,
        result_path="$.sagemaker",
        # Past the stopping condition a job still uploads its model and stops: the task waits
        # for that rather than fail a run whose job is finishing.
        task_timeout=sfn.Timeout.duration(TRAINING_MAX_RUNTIME.plus(TRAINING_WIND_DOWN)),
    )


def _training_job_role(
    scope: Construct,
    options: RetrainingOptions,
    model_name: str,
    bucket: s3.IBucket,
    output: str,
) -> iam.Role:
    """What a training job needs: its data, its output prefix, its logs, its image."""
    stack = Stack.of(scope)
    datasets = f"{names.DATASETS_PREFIX}/{model_name}/"
    role = iam.Role(
        scope,
        "TrainingJobRole",
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description=f"modelship SageMaker training ({model_name})",
    )
    grant_prefix_read(role, bucket, datasets, read_sid="ReadDatasets", list_sid="ListDatasets")
    role.add_to_policy(
        iam.PolicyStatement(
            sid="WriteOutput",
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{output}*")],
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
            resources=[ecr_repository_arn(options.sagemaker_image_uri, stack.partition)],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"])
    )
    nag.training_job_role(role, bucket, datasets, output)
    return role


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


def _instance_type(name: str) -> Any:
    # Imported here: aws_ec2 is one of the largest CDK modules, and only this backend needs it.
    from aws_cdk import aws_ec2 as ec2

    return ec2.InstanceType(name.removeprefix("ml."))
