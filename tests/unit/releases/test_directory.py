"""The model directory read from GetParametersByPath pages: every page, the default first,
extra keys ignored, and a malformed parameter named."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelship.errors import DeploymentNotFound, InvalidModelDirectory, ModelNotDeployed
from modelship.releases.directory import DeployedModel, ModelDirectory

STACK = "modelship-prod"
PATH = "/modelship/modelship-prod/models"


def value(model: str, **changes: Any) -> dict[str, Any]:
    return {
        "model": model,
        "default": False,
        "function": f"{model}-fn",
        "alias": "live",
        "bucket": "models-bucket",
        "release_state_machine": f"arn:aws:states:us-east-1:1:stateMachine:{model}-release",
        "retrain_state_machine": "",
        "api_path": f"/models/{model}",
        **changes,
    }


def parameter(model: str, raw: Any) -> dict[str, str]:
    return {"Name": f"{PATH}/{model}", "Value": raw if isinstance(raw, str) else json.dumps(raw)}


class FakeSsm:
    """Serves `pages` to the get_parameters_by_path paginator and records its arguments."""

    def __init__(self, *pages: list[dict[str, str]]) -> None:
        self.pages = pages
        self.calls: list[dict[str, Any]] = []

    def get_paginator(self, operation: str) -> FakeSsm:
        assert operation == "get_parameters_by_path"
        return self

    def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append(kwargs)
        return [{"Parameters": page} for page in self.pages]


def test_models_come_from_every_page_default_first_then_by_name() -> None:
    ssm = FakeSsm(
        [parameter("zeta", value("zeta")), parameter("churn", value("churn", default=True))],
        [parameter("alpha", value("alpha"))],
    )
    directory = ModelDirectory(ssm, STACK)

    assert directory.model_names() == ["churn", "alpha", "zeta"]
    assert directory.get("alpha").function == "alpha-fn"
    assert ssm.calls == [{"Path": PATH, "Recursive": False}]
    directory.get("zeta")
    assert len(ssm.calls) == 1  # read once


def test_keys_this_version_does_not_know_are_ignored_and_optional_ones_default() -> None:
    model = DeployedModel.model_validate(
        {"model": "churn", "function": "fn", "bucket": "b", "runbook": "https://example"}
    )

    assert (model.alias, model.default, model.retrain_state_machine) == ("live", False, "")
    assert model.dashboard == ""  # an entry written before dashboards
    assert not hasattr(model, "runbook")


def test_an_unknown_model_names_the_stack_and_its_models() -> None:
    directory = ModelDirectory(FakeSsm([parameter("churn", value("churn"))]), STACK)

    with pytest.raises(
        ModelNotDeployed, match=r"stack modelship-prod has no model 'ltv'; its models: churn$"
    ):
        directory.get("ltv")


def test_a_stack_without_parameters_has_no_models_deployed() -> None:
    with pytest.raises(DeploymentNotFound) as raised:
        ModelDirectory(FakeSsm([]), STACK).models()

    assert "stack modelship-prod has no models deployed" in str(raised.value)
    assert PATH in str(raised.value)
    assert "MODELSHIP_STACK" in str(raised.value)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "is not JSON"),
        ('["churn"]', "is not a JSON object (got list)"),
        (value("churn", function=None), "is not a model entry: function: "),
        ({"model": "churn", "bucket": "b"}, "is not a model entry: function: Field required"),
        (value("churn-forest"), "describes model 'churn-forest', not the one it is named after"),
    ],
)
def test_a_malformed_parameter_is_named(raw: Any, problem: str) -> None:
    ssm = FakeSsm([parameter("ok", value("ok")), parameter("churn", raw)])

    with pytest.raises(InvalidModelDirectory) as raised:
        ModelDirectory(ssm, STACK).models()

    assert str(raised.value).startswith(f"parameter {PATH}/churn ")
    assert problem in str(raised.value)
