"""Two models: the default stays where a single-model deployment has it, the other gets a
nested stack with its own names, routes, authorizer and directory entry; cdk-nag covers it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk import aws_s3 as s3

from infra_cdk.app import build_app
from modelship import names
from tests.infra.template_queries import Synthesized, synthesized

MODELS = {
    "churn": {},
    "churn-forest": {
        "trainingAlgorithm": "random_forest",
        "authMode": "jwt",
        "jwtIssuer": "https://issuer.example.com",
        "jwtAudience": "api",
    },
}


@pytest.fixture(scope="module")
def two() -> Synthesized:
    return synthesized(models=MODELS, defaultModel="churn", appName="shop")


@pytest.fixture(scope="module")
def single() -> Synthesized:
    return synthesized(appName="shop")


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_adding_a_model_changes_no_logical_id_of_the_default(
    single: Synthesized, two: Synthesized
) -> None:
    before, after = single.parent(), two.parent()
    added = set(after["Resources"]) - set(before["Resources"])
    assert set(before["Resources"]) <= set(after["Resources"])
    # The nested stack, and the other model's JWT authorizer on the shared API.
    assert sorted(after["Resources"][k]["Type"] for k in added) == [
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::CloudFormation::Stack",
    ]
    assert set(before["Outputs"]) == set(after["Outputs"])


def test_the_nested_stack_file_and_its_asset(two: Synthesized) -> None:
    nested = two.stack.model_stacks["churn-forest"]
    assert nested.template_file.endswith(".nested.template.json")
    assert (two.out / nested.template_file).is_file()
    assets = json.loads((two.out / "shop-dev.assets.json").read_text())
    assert nested.template_file in {a["source"]["path"] for a in assets["files"].values()}


def test_no_nested_name_derives_from_the_nested_stack_name(two: Synthesized) -> None:
    nested = json.dumps(two.nested("churn-forest"))
    assert '"AWS::StackName"' not in nested
    groups = {
        r["Properties"].get("LogGroupName")
        for _, t in two.templates()
        for r in _of_type(t, "AWS::Logs::LogGroup").values()
    }
    assert "/aws/vendedlogs/states/shop-dev-release" in groups
    assert "/aws/vendedlogs/states/shop-dev-release-churn-forest" in groups
    machines = {
        r["Properties"].get("StateMachineName")
        for _, t in two.templates()
        for r in _of_type(t, "AWS::StepFunctions::StateMachine").values()
    }
    assert {"shop-dev-retrain-churn", "shop-dev-retrain-churn-forest"} <= machines


def test_each_model_routes_to_its_own_alias_with_its_own_authorizer(two: Synthesized) -> None:
    parent, nested = two.parent(), two.nested("churn-forest")
    (authorizer_id,) = _of_type(parent, "AWS::ApiGatewayV2::Authorizer")
    (alias_id,) = _of_type(nested, "AWS::Lambda::Alias")
    (integration,) = _of_type(nested, "AWS::ApiGatewayV2::Integration").values()
    assert integration["Properties"]["IntegrationUri"] == {"Ref": alias_id}
    routes = _of_type(nested, "AWS::ApiGatewayV2::Route").values()
    assert {r["Properties"]["RouteKey"] for r in routes} == {
        "POST /models/churn-forest/predict",
        "GET /models/churn-forest/health",
        "GET /models/churn-forest/info",
        "GET /models/churn-forest/openapi.json",
    }
    stack = next(iter(_of_type(parent, "AWS::CloudFormation::Stack").values()))
    for route in routes:
        assert route["Properties"]["AuthorizationType"] == "JWT"
        (parameter,) = route["Properties"]["AuthorizerId"].values()
        assert stack["Properties"]["Parameters"][parameter] == {"Ref": authorizer_id}
    for route in _of_type(parent, "AWS::ApiGatewayV2::Route").values():
        assert route["Properties"]["AuthorizationType"] == "AWS_IAM"


def test_every_model_has_its_directory_entry(two: Synthesized) -> None:
    for name, template in two.templates():
        (entry,) = _of_type(template, "AWS::SSM::Parameter").values()
        props = entry["Properties"]
        assert props["Name"] == f"/modelship/shop-dev/models/{name}"
        assert props["Type"] == "String"
        # Fn::Join of JSON text and tokens: with the tokens filled in it is the §4 object.
        parts = props["Value"]["Fn::Join"][1]
        text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
        value = json.loads(text)
        assert value["model"] == name
        assert value["default"] is (name == "churn")
        assert value["alias"] == "live"
        assert value["api_path"] == f"/models/{name}"
        assert value["function"] == value["release_state_machine"] == "TOKEN"


def test_a_finding_in_a_nested_stack_fails_synth(stub_layer: Path, tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path), context={"models": MODELS})
    stack = build_app(app, layer_asset=stub_layer)
    s3.Bucket(stack.model_stacks["churn-forest"], "CarelessBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "Model-churn-forest/CarelessBucket" in report


def test_retraining_off_leaves_out_the_pipeline_and_its_outputs() -> None:
    parent = synthesized(retraining="off").parent()
    assert len(_of_type(parent, "AWS::StepFunctions::StateMachine")) == 1
    assert "RetrainStateMachineArn" not in parent["Outputs"]
    (entry,) = _of_type(parent, "AWS::SSM::Parameter").values()
    assert '"retrain_state_machine":""' in json.dumps(entry["Properties"]["Value"]).replace(
        "\\", ""
    )
    assert (
        names.model_directory_path("modelship-dev")
        == parent["Outputs"]["ModelDirectoryPath"]["Value"]
    )
