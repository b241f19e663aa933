"""A CDK app with a NestedStack, synthesized here, provisioned by the emulator's deployer on
moto: the nested stack's functions, routes, roles and SSM parameters are there, each route
reaches its own model's alias, and local up's environment names the default model."""

from __future__ import annotations

import os

# Before the first aws_cdk import starts the jsii runtime (Makefile exports the same).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sklearn
from moto import mock_aws

from modelship import names
from modelship.local.deployer import Deployer, find_template
from modelship.local.deployment import Clients, Deployment
from modelship.local.endpoints import deployed_models, endpoints
from modelship.local.iam import template_policies
from modelship.local.seed import seed_reference_models

STACK = "app-dev"


def _synth(out: Path, code: Path) -> Path:
    from aws_cdk import App, NestedStack, Stack
    from aws_cdk import aws_apigatewayv2 as apigw
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_s3 as s3
    from aws_cdk import aws_ssm as ssm
    from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration

    def model(scope: Any, name: str, bucket: s3.Bucket, api: apigw.HttpApi, default: bool) -> Any:
        function = lambda_.Function(
            scope,
            "PredictFunction",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler=names.PREDICT_HANDLER,
            code=lambda_.Code.from_asset(str(code)),
            environment={
                names.ENV_MODEL_NAME: name,
                names.ENV_MODEL_BUCKET: bucket.bucket_name,
                names.ENV_LAYER_SKLEARN_VERSION: sklearn.__version__,
            },
        )
        bucket.grant_read(function)
        if not default:
            # What a retraining task names: the predict function it releases to, its algorithm.
            lambda_.Function(
                scope,
                "TrainFunction",
                runtime=lambda_.Runtime.PYTHON_3_12,
                handler="handler.lambda_handler",
                code=lambda_.Code.from_asset(str(code)),
                environment={
                    names.ENV_PREDICT_FUNCTION: function.function_name,
                    names.ENV_TRAINING_ALGORITHM: "random_forest",
                },
            )
        alias = lambda_.Alias(
            scope, "LiveAlias", alias_name="live", version=function.current_version
        )
        integration = HttpLambdaIntegration("Integration", alias)
        paths = [names.model_routes_prefix(name) + "/predict"] + (["/predict"] if default else [])
        for path in paths:
            apigw.HttpRoute(
                scope,
                f"Route{path.replace('/', '').replace('-', '')}",
                http_api=api,
                route_key=apigw.HttpRouteKey.with_(path, apigw.HttpMethod.POST),
                integration=integration,
            )
        entry = {
            "model": name,
            "default": default,
            "function": function.function_name,
            "alias": "live",
            "bucket": bucket.bucket_name,
            "release_state_machine": "",
            "retrain_state_machine": "",
            "api_path": names.model_routes_prefix(name),
        }
        ssm.StringParameter(
            scope,
            "Directory",
            parameter_name=names.model_directory_parameter(STACK, name),
            string_value=Stack.of(scope).to_json_string(entry),
        )

    app = App(outdir=str(out))
    stack = Stack(app, STACK)
    bucket = s3.Bucket(stack, "ModelBucket")
    api = apigw.HttpApi(stack, "HttpApi")
    model(stack, "churn", bucket, api, default=True)
    model(NestedStack(stack, "ModelChurnForest"), "churn-forest", bucket, api, default=False)
    app.synth()
    return out


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    code = tmp_path_factory.mktemp("code")
    (code / "handler.py").write_text("def lambda_handler(event, context):\n    return {}\n")
    return _synth(tmp_path_factory.mktemp("synth") / "cdk.out", code)


@pytest.fixture
def deployed(cdk_out: Path) -> Iterator[tuple[Deployment, Clients]]:
    with mock_aws():

        def client(service: str) -> Any:
            return boto3.client(service, region_name="us-east-1")

        clients = Clients(
            **{
                field: client(service)
                for field, service in {
                    "s3": "s3",
                    "lambda_": "lambda",
                    "iam": "iam",
                    "sfn": "stepfunctions",
                    "cloudwatch": "cloudwatch",
                    "events": "events",
                    "sns": "sns",
                    "logs": "logs",
                    "sts": "sts",
                    "sqs": "sqs",
                    "ssm": "ssm",
                    "firehose": "firehose",
                }.items()
            }
        )
        yield Deployer(clients, cdk_out).deploy(), clients


def _directory(clients: Clients, deployment: Deployment) -> dict[str, dict[str, Any]]:
    return {m.model: m.model_dump() for m in deployed_models(clients.ssm, deployment)}


def test_the_parent_template_is_found_beside_its_nested_template(cdk_out: Path) -> None:
    assert [p.name for p in cdk_out.glob("*.nested.template.json")] != []
    assert find_template(cdk_out).name == f"{STACK}.template.json"


def test_every_models_function_alias_and_directory_entry_is_provisioned(
    deployed: tuple[Deployment, Clients],
) -> None:
    deployment, clients = deployed

    functions = sorted(
        f["FunctionName"]
        for f in clients.lambda_.list_functions()["Functions"]
        if f["Handler"] == names.PREDICT_HANDLER
    )
    assert len(functions) == 2
    for function in functions:
        aliases = clients.lambda_.list_aliases(FunctionName=function)["Aliases"]
        assert [a["Name"] for a in aliases] == ["live"]
    listed = clients.ssm.get_parameters_by_path(Path=names.model_directory_path(STACK))
    directory = {p["Name"].rsplit("/", 1)[-1]: json.loads(p["Value"]) for p in listed["Parameters"]}
    assert sorted(directory) == ["churn", "churn-forest"]
    assert {entry["function"] for entry in directory.values()} == set(functions)
    assert directory["churn-forest"]["bucket"] == directory["churn"]["bucket"]
    assert [m.model for m in deployed_models(clients.ssm, deployment)] == ["churn", "churn-forest"]


def test_each_route_goes_to_its_own_models_alias(deployed: tuple[Deployment, Clients]) -> None:
    deployment, clients = deployed
    directory = _directory(clients, deployment)

    def alias_of(model: str) -> str:
        entry = directory[model]
        return f"arn:aws:lambda:us-east-1:123456789012:function:{entry['function']}:live"

    assert deployment.routes == {
        "POST /predict": alias_of("churn"),
        "POST /models/churn/predict": alias_of("churn"),
        "POST /models/churn-forest/predict": alias_of("churn-forest"),
    }


def test_iam_sees_the_nested_stacks_role_with_the_parents_bucket(
    deployed: tuple[Deployment, Clients],
) -> None:
    deployment, clients = deployed
    forest = _directory(clients, deployment)["churn-forest"]["function"]
    bucket = _directory(clients, deployment)["churn"]["bucket"]

    policies = template_policies(deployment.template, deployment.refs, deployment.attributes)

    forest_roles = [
        role
        for role in policies.roles.values()
        if role.logical_id.startswith("ModelChurnForestPredictFunction")
        and role.logical_id in deployment.nested
    ]
    assert len(forest_roles) == 1
    resources = {
        str(resource)
        for _, _, statement in forest_roles[0].allow_statements()
        for resource in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    }
    assert f"arn:aws:s3:::{bucket}/*" in resources
    # API Gateway's permission on the nested alias is a resource policy of that alias.
    assert f"arn:aws:lambda:us-east-1:123456789012:function:{forest}:live" in (
        policies.resource_policies
    )


def test_local_up_names_the_stack_and_the_default_model(
    deployed: tuple[Deployment, Clients],
) -> None:
    deployment, clients = deployed
    churn = _directory(clients, deployment)["churn"]
    models = deployed_models(clients.ssm, deployment)

    environment = endpoints("http://aws", deployment, "http://api", models).environment

    assert environment["MODELSHIP_STACK"] == STACK
    assert environment["MODELSHIP_FUNCTION"] == churn["function"]
    assert environment["MODELSHIP_ALIAS"] == "live"
    assert environment["MODELSHIP_BUCKET"] == churn["bucket"]
    # The default model's function is the one in the parent stack.
    assert deployment.function_with_handler(names.PREDICT_HANDLER) == churn["function"]


def test_every_reference_model_is_seeded_under_its_own_name(
    deployed: tuple[Deployment, Clients], tmp_path: Path
) -> None:
    deployment, clients = deployed

    seeded = seed_reference_models(
        clients, deployment, deployed_models(clients.ssm, deployment), tmp_path
    )

    assert sorted((s.model, s.algorithm) for s in seeded) == [
        ("churn", "logistic_regression"),
        ("churn-forest", "random_forest"),
    ]
    for entry in _directory(clients, deployment).values():
        alias = clients.lambda_.get_alias(FunctionName=entry["function"], Name="live")
        version = clients.lambda_.get_function_configuration(
            FunctionName=entry["function"], Qualifier=alias["FunctionVersion"]
        )
        variables = version["Environment"]["Variables"]
        assert (variables[names.ENV_MODEL_NAME], variables[names.ENV_MODEL_VERSION]) == (
            entry["model"],
            "v0",
        )
