"""The model directory against moto's SSM: more models than one GetParametersByPath page
holds (10), and nothing below a model's own parameter."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from modelship import names
from modelship.releases.directory import ModelDirectory


@mock_aws
def test_every_page_is_read_and_deeper_parameters_are_not_models() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    models = [f"model-{index:02d}" for index in range(12)]
    for model in models:
        ssm.put_parameter(
            Name=names.model_directory_parameter("app-prod", model),
            Type="String",
            Value=json.dumps(
                {
                    "model": model,
                    "default": model == "model-07",
                    "function": f"{model}-fn",
                    "alias": "live",
                    "bucket": "b",
                }
            ),
        )
    ssm.put_parameter(
        Name=f"{names.model_directory_parameter('app-prod', 'model-00')}/note",
        Type="String",
        Value="not a model",
    )
    ssm.put_parameter(
        Name=names.model_directory_parameter("app-staging", "other"), Type="String", Value="{}"
    )

    directory = ModelDirectory(ssm, "app-prod")

    assert directory.model_names() == ["model-07", *(m for m in models if m != "model-07")]
    assert directory.get("model-11").function == "model-11-fn"
