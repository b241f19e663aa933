"""The predict function: code, layer, environment, logging, tracing and least privilege."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from infra_cdk.function_source import stage_predict_source
from infra_cdk.layer_recipe import pinned_version
from infra_cdk.settings import SettingsError
from modelship import names
from tests.infra.template_queries import Synth, logical_id_starting, only


def function_props(template: Template) -> dict:
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    return template.to_json()["Resources"][function_id]["Properties"]


def predict_policy(template: Template) -> list[dict]:
    """The predict role's default policy (the shadow mirror's own policy: test_shadow_infra)."""
    role_id = logical_id_starting(template, "AWS::IAM::Role", "PredictRole")
    policies = [
        policy["Properties"]
        for logical, policy in template.find_resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        and logical.startswith("PredictRoleDefaultPolicy")
    ]
    assert len(policies) == 1
    return policies[0]["PolicyDocument"]["Statement"]


def test_handler_runtime_architecture_and_sizes(template: Template) -> None:
    props = function_props(template)
    assert props["Handler"] == names.PREDICT_HANDLER
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1024
    assert props["Timeout"] == 15
    assert props["EphemeralStorage"] == {"Size": 512}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert "SnapStart" not in props


def test_settings_from_context_reach_the_function(synth: Synth) -> None:
    props = function_props(
        synth(architecture="x86_64", runtime="python3.13", memorySize="2048", timeout=29)
    )
    assert props["Architectures"] == ["x86_64"]
    assert props["Runtime"] == "python3.13"
    assert props["MemorySize"] == 2048
    assert props["Timeout"] == 29


def test_layer_is_attached(template: Template) -> None:
    layer_id, layer = only(template, "AWS::Lambda::LayerVersion")
    assert function_props(template)["Layers"] == [{"Ref": layer_id}]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]


def test_environment(synth: Synth) -> None:
    sha = "ab" * 32
    template = synth(modelName="fraud", maxRows=50, modelVersion="v7", modelSha256=sha)
    bucket_id = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")
    assert function_props(template)["Environment"]["Variables"] == {
        names.ENV_MODEL_BUCKET: {"Ref": bucket_id},
        names.ENV_MODEL_NAME: "fraud",
        names.ENV_DEPLOYMENT_MODELS: "fraud",
        names.ENV_MODEL_VERSION: "v7",
        names.ENV_MODEL_SHA256: sha,
        names.ENV_MAX_ROWS: "50",
        names.ENV_MAX_BODY_BYTES: str(names.DEFAULT_MAX_BODY_BYTES),
        names.ENV_EPHEMERAL_STORAGE_MB: "512",
        names.ENV_MODEL_CACHE_DIR: names.DEFAULT_MODEL_CACHE_DIR,
        names.ENV_POWERTOOLS_SERVICE_NAME: "predict",
        names.ENV_POWERTOOLS_METRICS_NAMESPACE: "modelship",
        names.ENV_LAYER_SKLEARN_VERSION: pinned_version("scikit-learn"),
        names.ENV_CAPTURE_STREAM: names.capture_stream_name("modelship-dev"),
        names.ENV_CAPTURE_SAMPLE_RATE: str(names.DEFAULT_CAPTURE_SAMPLE_RATE),
        names.ENV_CAPTURE_EXCLUDE_FIELDS: "",
    }


def test_unpinned_model_by_default(template: Template) -> None:
    variables = function_props(template)["Environment"]["Variables"]
    assert variables[names.ENV_MODEL_VERSION] == ""
    assert variables[names.ENV_MODEL_SHA256] == ""


def test_explicit_log_group_with_retention(synth: Synth) -> None:
    template = synth(logRetentionDays=90)
    log_group_id = logical_id_starting(template, "AWS::Logs::LogGroup", "PredictLogGroup")
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})
    assert function_props(template)["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}


def test_snapstart_on_published_versions(synth: Synth) -> None:
    props = function_props(synth(snapStart="on"))
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}


def test_snapstart_refuses_large_ephemeral_storage(synth: Synth) -> None:
    with pytest.raises(SettingsError, match="ephemeralStorageMb"):
        synth(snapStart="on", ephemeralStorageMb=1024)


def test_predict_role_reads_only_its_model_prefix(template: Template) -> None:
    bucket_id = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")
    log_group_id = logical_id_starting(template, "AWS::Logs::LogGroup", "PredictLogGroup")
    statements = {
        tuple(sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"])): s
        for s in predict_policy(template)
    }
    assert set(statements) == {
        ("s3:GetObject",),
        ("s3:ListBucket",),
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        ("firehose:PutRecordBatch",),  # data capture: tests/infra/test_data_capture.py
    }
    assert statements[("s3:GetObject",)]["Resource"] == {
        "Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/models/churn/*"]]
    }
    listing = statements[("s3:ListBucket",)]
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": ["models/churn/", "models/churn/*"]}
    }
    logs_statement = statements[("logs:CreateLogStream", "logs:PutLogEvents")]
    assert logs_statement["Resource"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert statements[("xray:PutTelemetryRecords", "xray:PutTraceSegments")]["Resource"] == "*"
    assert all(s["Effect"] == "Allow" for s in statements.values())


def test_predict_role_has_no_managed_policies(template: Template) -> None:
    role = template.to_json()["Resources"][
        logical_id_starting(template, "AWS::IAM::Role", "PredictRole")
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }


def test_code_asset_holds_only_the_handler_and_the_library() -> None:
    staging = stage_predict_source()
    assert sorted(p.name for p in staging.iterdir()) == ["functions", "modelship"]
    assert sorted(p.name for p in (staging / "functions").iterdir()) == ["__init__.py", "predict"]
    assert (staging / "functions" / "predict" / "app.py").is_file()
    assert not list(staging.rglob("__pycache__"))
