"""Many models in one deployment: what each model costs in the template, how many fit, and a
25-model app that passes cdk-nag with every model isolated from the others."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra_cdk.predict_api import MODEL_ROUTES, ROUTES
from modelship import names
from tests.infra.template_queries import Synthesized, synthesized

# CloudFormation: 500 resources per stack (each nested stack has its own 500). API Gateway
# HTTP APIs: 300 routes and 300 integrations per API (routes can be raised on request).
MAX_RESOURCES = 500
MAX_ROUTES = 300
MAX_INTEGRATIONS = 300
SAGEMAKER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _function(template: dict[str, Any], handler: str) -> str:
    (logical,) = [
        k
        for k, r in _of_type(template, "AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == handler
    ]
    return logical


def _refs(value: Any) -> set[str]:
    """Every logical id or parameter a value refers to (Ref, Fn::GetAtt)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_refs(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    return set()


def _role_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = []
    for policy in _of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    assert statements, f"no policy for {function}"
    return statements


def _prefix_of(function: str) -> dict[str, Any]:
    """names.guardrail_alarm_prefix of the function `function`, as the template spells it."""
    return {"Fn::Join": ["", [names.GUARDRAIL_ALARM_PREFIX, {"Ref": function}, "-"]]}


# ---- what one model costs


@pytest.fixture(scope="module")
def two_models() -> Synthesized:
    # The heaviest model: SageMaker training and a schedule add the most resources.
    models = {
        "churn": {},
        "heavy": {
            "trainingBackend": "sagemaker",
            "sagemakerImageUri": SAGEMAKER_IMAGE,
            "retrainSchedule": "rate(7 days)",
        },
    }
    return synthesized(models=models)


@pytest.fixture(scope="module")
def one_model() -> Synthesized:
    return synthesized()


def test_how_many_models_one_deployment_holds(
    one_model: Synthesized, two_models: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> None:
    parent_alone = len(one_model.parent()["Resources"])
    added_to_parent = len(two_models.parent()["Resources"]) - parent_alone
    nested = len(two_models.nested("heavy")["Resources"])
    routes_default = len(ROUTES) + len(MODEL_ROUTES)
    # Each other model: one AWS::CloudFormation::Stack in the parent, the rest in its own.
    assert added_to_parent == 1
    assert nested < MAX_RESOURCES
    by_parent = (MAX_RESOURCES - parent_alone) // added_to_parent + 1
    by_routes = (MAX_ROUTES - routes_default) // len(MODEL_ROUTES) + 1
    by_integrations = MAX_INTEGRATIONS  # one integration per model
    fits = min(by_parent, by_routes, by_integrations)
    measured = {
        "parent_resources_with_one_model": parent_alone,
        "parent_resources_added_per_model": added_to_parent,
        "nested_stack_resources_per_model_max": nested,
        "models_by_parent_resources": by_parent,
        "models_by_api_routes": by_routes,
        "models_that_fit": fits,
    }
    (tmp_path_factory.getbasetemp() / "models-per-deployment.json").write_text(
        json.dumps(measured, indent=2)
    )
    print(f"\nmodels per deployment: {measured}")
    # The API's 300 routes are the binding limit: 8 routes for the default, 4 per other model.
    assert fits == by_routes == 74
    assert by_parent > by_routes


# ---- 25 models


MANY = 25


@pytest.fixture(scope="module")
def many_models(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    models: dict[str, dict[str, Any]] = {f"model-{i:02d}": {} for i in range(MANY)}
    models["model-03"] = {"retraining": "off"}
    models["model-07"] = {
        "memorySize": 2048,
        "authMode": "jwt",
        "jwtIssuer": "https://issuer.example.com",
        "jwtAudience": "api",
        "releasePlan": "5:10m,100",
        "guardrailErrorRatePercent": 2,
        "guardrailMinRequests": 50,
    }
    models["model-11"] = {"retraining": "off", "authMode": "none", "authNoneReason": "a demo"}
    many = synthesized(models=models, stage="scale")
    report = tmp_path_factory.getbasetemp() / "synth-25-models.txt"
    report.write_text(f"{MANY} models synthesized (with cdk-nag) in {many.seconds:.1f} s\n")
    print(f"\n{MANY} models synthesized (with cdk-nag) in {many.seconds:.1f} s ({report})")
    return many


def test_twenty_five_models_synthesize_each_in_its_own_stack(many_models: Synthesized) -> None:
    names_seen = [name for name, _ in many_models.templates()]
    assert names_seen == [f"model-{i:02d}" for i in range(MANY)]
    parent = many_models.parent()
    assert len(_of_type(parent, "AWS::CloudFormation::Stack")) == MANY - 1
    assert len(parent["Resources"]) < MAX_RESOURCES
    assert len(parent.get("Outputs", {})) < 200
    routes = [
        r["Properties"]["RouteKey"]
        for _, t in many_models.templates()
        for r in _of_type(t, "AWS::ApiGatewayV2::Route").values()
    ]
    assert len(routes) == len(set(routes)) == len(ROUTES) + MANY * len(MODEL_ROUTES)
    for name, template in many_models.templates():
        assert len(template["Resources"]) < MAX_RESOURCES
        assert f"POST {names.model_routes_prefix(name)}/predict" in routes
        (entry,) = _of_type(template, "AWS::SSM::Parameter").values()
        assert entry["Properties"]["Name"] == names.model_directory_parameter(
            "modelship-scale", name
        )
        predict = template["Resources"][_function(template, names.PREDICT_HANDLER)]
        variables = predict["Properties"]["Environment"]["Variables"]
        assert variables[names.ENV_MODEL_NAME] == name
        assert variables[names.ENV_DEPLOYMENT_MODELS].split(",") == names_seen


def test_overrides_and_retraining_switches_apply_to_their_model_only(
    many_models: Synthesized,
) -> None:
    machines = {
        name: len(_of_type(t, "AWS::StepFunctions::StateMachine"))
        for name, t in many_models.templates()
    }
    assert {name for name, count in machines.items() if count == 1} == {"model-03", "model-11"}
    assert all(
        count == 2 for name, count in machines.items() if name not in ("model-03", "model-11")
    )
    memory = {
        name: t["Resources"][_function(t, names.PREDICT_HANDLER)]["Properties"]["MemorySize"]
        for name, t in many_models.templates()
    }
    assert {name for name, mb in memory.items() if mb != 1024} == {"model-07"}
    auth = {
        r["Properties"]["RouteKey"]: r["Properties"]["AuthorizationType"]
        for _, t in many_models.templates()
        for r in _of_type(t, "AWS::ApiGatewayV2::Route").values()
    }
    assert auth["POST /models/model-07/predict"] == "JWT"
    assert auth["POST /models/model-11/predict"] == "NONE"
    assert auth["POST /models/model-12/predict"] == "AWS_IAM"
    assert auth["POST /predict"] == "AWS_IAM"


def test_every_rollback_function_acts_on_its_own_model_only(many_models: Synthesized) -> None:
    for name, template in many_models.templates():
        predict = _function(template, names.PREDICT_HANDLER)
        rollback = _function(template, names.ROLLBACK_HANDLER)
        for statement in _role_statements(template, rollback):
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            if any(a.startswith("lambda:") for a in actions):
                assert _refs(resources) == {predict}, (name, statement)
            if "cloudwatch:DeleteAlarms" in actions:
                (alarms,) = resources
                assert predict in _refs(alarms), (name, statement)
                joined = json.dumps(alarms)
                assert f"alarm:{names.GUARDRAIL_ALARM_PREFIX}" in joined, (name, statement)
            # Nothing of another model's stack is even visible here: only this template's
            # resources and the shared bucket's parameters.
            for ref in _refs(resources):
                assert (
                    ref in template["Resources"] or "ModelBucket" in ref or ref.startswith("AWS::")
                ), (name, ref)


def test_every_guardrail_rule_matches_its_own_alarms_only(many_models: Synthesized) -> None:
    prefixes = []
    for name, template in many_models.templates():
        predict = _function(template, names.PREDICT_HANDLER)
        rollback = _function(template, names.ROLLBACK_HANDLER)
        alarm_rules = [
            r
            for r in _of_type(template, "AWS::Events::Rule").values()
            if r["Properties"].get("EventPattern", {}).get("source") == ["aws.cloudwatch"]
            and "prefix" in json.dumps(r["Properties"]["EventPattern"])
        ]
        (rule,) = alarm_rules
        pattern = rule["Properties"]["EventPattern"]["detail"]["alarmName"]
        assert pattern == [{"prefix": _prefix_of(predict)}], name
        (target,) = rule["Properties"]["Targets"]
        assert target["Arn"] == {"Fn::GetAtt": [rollback, "Arn"]}, name
        # The static alarms this rule acts on carry the same prefix; every alarm on the
        # handler's metrics (guardrails, drift) reads this model's only.
        models_watched = set()
        for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
            if names.GUARDRAIL_ALARM_PREFIX in json.dumps(alarm["Properties"]["AlarmName"]):
                assert alarm["Properties"]["AlarmName"]["Fn::Join"][1][:2] == [
                    names.GUARDRAIL_ALARM_PREFIX,
                    {"Ref": predict},
                ], name
            for metric in alarm["Properties"].get("Metrics", []):
                stat = metric.get("MetricStat", {}).get("Metric", {})
                if stat.get("Namespace") == names.METRICS_NAMESPACE:
                    dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
                    models_watched.add(dimensions.get(names.METRIC_DIMENSION_MODEL))
        assert models_watched == {name}, name
        prefixes.append((name, predict))
    # One rule per model, each in its own template.
    assert len(prefixes) == MANY
