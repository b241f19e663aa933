"""What AWS refuses in the resources a many-model template adds: the model directory's SSM
parameters and the models' routes on the one HTTP API."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from modelship import names
from modelship.local import template_checks as tv

DIRECTORY_ENTRY = json.dumps({"model": "churn", "default": True, "function": "fn"})
PARAMETER: dict[str, Any] = {
    "Type": "AWS::SSM::Parameter",
    "Properties": {
        "Name": names.model_directory_parameter("modelship-dev", "churn"),
        "Type": "String",
        "Value": DIRECTORY_ENTRY,
    },
}


def _route(key: str, api: str = "Api") -> dict[str, Any]:
    return {
        "Type": "AWS::ApiGatewayV2::Route",
        "Properties": {"ApiId": {"Ref": api}, "RouteKey": key, "Target": "integrations/x"},
    }


def _parameter(**properties: Any) -> dict[str, Any]:
    changed = copy.deepcopy(PARAMETER)
    changed["Properties"].update(properties)
    return changed


def test_a_model_directory_parameter_is_accepted() -> None:
    template = {"Resources": {"Churn": PARAMETER, "Forest": _parameter(Name="/modelship/x/y")}}

    assert tv.validate(template).refusals == []


@pytest.mark.parametrize(
    ("properties", "limit"),
    [
        ({"Name": "/aws/modelship/churn"}, "no aws or ssm prefix"),
        ({"Name": "ssm-churn"}, "no aws or ssm prefix"),
        ({"Name": "/modelship/has space"}, "a-zA-Z0-9_.- and / only"),
        ({"Name": "/" + "/".join("l" * 16)}, "at most 15 hierarchy levels"),
        ({"Name": "/" + "n" * 1000}, "the parameter's ARN is 1045 characters, AWS allows 1011"),
        ({"Type": "SecureString"}, "String or StringList"),
        ({"Value": "x" * 4097}, "at most 4096 bytes in the Standard tier"),
        ({"Value": ""}, "a value is required"),
    ],
)
def test_a_parameter_ssm_or_cloudformation_refuses_is_refused(
    properties: dict[str, Any], limit: str
) -> None:
    template = {"Resources": {"Churn": _parameter(**properties)}}

    refusals = tv.validate(template).refusals

    assert [f.limit for f in refusals] == [limit]
    assert refusals[0].logical_id == "Churn"


def test_an_advanced_parameter_may_hold_8_kb() -> None:
    template = {"Resources": {"Churn": _parameter(Value="x" * 8000, Tier="Advanced")}}

    assert tv.validate(template).refusals == []


def test_two_parameters_of_one_name_are_refused_once() -> None:
    template = {"Resources": {"Churn": PARAMETER, "Again": copy.deepcopy(PARAMETER)}}

    refusals = tv.validate(template).refusals

    assert [(f.rule, f.logical_id) for f in refusals] == [("ssm-parameter-name-unique", "Churn")]


def test_two_routes_with_one_key_on_one_api_are_refused() -> None:
    template = {
        "Resources": {
            "ChurnPredict": _route("POST /models/churn/predict"),
            "ForestPredict": _route("POST /models/churn-forest/predict"),
            "ForestAgain": _route("POST /models/churn-forest/predict"),
            "OtherApi": _route("POST /models/churn-forest/predict", api="Api2"),
        }
    }

    refusals = tv.validate(template).refusals

    assert [(f.rule, f.logical_id) for f in refusals] == [
        ("http-api-route-key-unique", "ForestAgain")
    ]
    assert "ForestPredict" in refusals[0].limit
