"""How the emulator is reached: the API URL, the moto endpoint with the credentials it
accepts, the environment `modelship local up` prints for the CLIs, and boto3 clients."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelship import names
from modelship.local.deployment import REGION, Clients, Deployment, UnsupportedResource

if TYPE_CHECKING:
    from modelship.releases.directory import DeployedModel

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

# names.model_directory_parameter(stack, model), read back.
_DIRECTORY_PARAMETER = re.compile(
    re.escape(names.model_directory_parameter("STACK", "MODEL"))
    .replace("STACK", "(?P<stack>[^/]+)")
    .replace("MODEL", "(?P<model>[^/]+)")
)


@dataclass(frozen=True)
class LocalEndpoints:
    """What `modelship local up` prints: the API URL and the environment to export."""

    api_url: str
    aws_endpoint: str
    environment: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "environment": self.environment,
        }


def endpoints(
    aws: str, deployment: Deployment, api_url: str, models: Sequence[DeployedModel] = ()
) -> LocalEndpoints:
    """The endpoints of a deployment on the moto server at `aws`, its API at `api_url`: with
    a model directory (`models`, deployed_models), the stack it names (MODELSHIP_STACK) and
    the default model's function, alias, bucket and state machines; without one, the one
    predict function's."""
    environment = {
        "AWS_ENDPOINT_URL": aws,
        **FAKE_CREDENTIALS,
        "MODELSHIP_API_URL": api_url,
    }
    default = next((model for model in models if model.default), None)
    if default is not None:
        environment["MODELSHIP_STACK"] = directory_stack(deployment) or deployment.stack_name
        environment["MODELSHIP_BUCKET"] = default.bucket
        environment["MODELSHIP_FUNCTION"] = default.function
        environment["MODELSHIP_ALIAS"] = default.alias
        release, retrain = default.release_state_machine, default.retrain_state_machine
    else:
        buckets = deployment.of_type("AWS::S3::Bucket")
        environment["MODELSHIP_BUCKET"] = next(
            (name for lid, name in buckets.items() if lid.startswith("ModelBucket")), ""
        )
        environment["MODELSHIP_FUNCTION"] = deployment.function_with_handler(names.PREDICT_HANDLER)
        environment["MODELSHIP_ALIAS"] = alias_name(deployment)
        release = deployment.state_machine("ReleaseMachine") or ""
        retrain = deployment.state_machine("Retraining") or ""
    if release:
        environment["MODELSHIP_RELEASE_STATE_MACHINE"] = release
    if retrain:
        environment["MODELSHIP_RETRAIN_STATE_MACHINE"] = retrain
    return LocalEndpoints(api_url=api_url, aws_endpoint=aws, environment=environment)


def directory_stack(deployment: Deployment) -> str | None:
    """The stack whose model directory the deployment's SSM parameters form, if any."""
    stacks = {
        match["stack"]
        for name in deployment.parameters
        if (match := _DIRECTORY_PARAMETER.fullmatch(name)) is not None
    }
    if len(stacks) > 1:
        raise UnsupportedResource(f"the template writes the model directories of {sorted(stacks)}")
    return next(iter(stacks), None)


def deployed_models(ssm: Any, deployment: Deployment) -> list[DeployedModel]:
    """The deployment's models as the CLI reads them (ModelDirectory, the default first);
    none for a template without a model directory."""
    from modelship.releases.directory import ModelDirectory

    stack = directory_stack(deployment)
    return [] if stack is None else ModelDirectory(ssm, stack).models()


def alias_name(deployment: Deployment) -> str:
    aliases = deployment.of_type("AWS::Lambda::Alias")
    if len(aliases) != 1:
        return names.DEFAULT_ALIAS_NAME
    return next(iter(aliases.values())).rsplit(":", 1)[-1]


def moto_clients(endpoint: str) -> Clients:
    """Clients of the emulator's moto server, with the credentials it accepts."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 2}, max_pool_connections=32)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint, config=config)

    return Clients(
        s3=client("s3"),
        lambda_=client("lambda"),
        iam=client("iam"),
        sfn=client("stepfunctions"),
        cloudwatch=client("cloudwatch"),
        events=client("events"),
        sns=client("sns"),
        logs=client("logs"),
        sts=client("sts"),
        sqs=client("sqs"),
        ssm=client("ssm"),
        firehose=client("firehose"),
    )
