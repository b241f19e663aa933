"""The model directory of a deployment: one SSM parameter per model under
`names.model_directory_path(stack)`, each a JSON `DeployedModel` naming the model's function,
alias, bucket and state machines. The CDK app writes it; the CLI reads it to find what
`--model` addresses."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from modelship import names
from modelship.errors import DeploymentNotFound, InvalidModelDirectory, ModelNotDeployed


class DeployedModel(BaseModel):
    """One model of a deployment, as its directory parameter describes it. Keys this version
    does not know are ignored, so a newer stack can add some."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: str
    default: bool = False
    function: str
    alias: str = names.DEFAULT_ALIAS_NAME
    bucket: str
    release_state_machine: str = ""
    retrain_state_machine: str = ""  # empty: retraining is off for this model
    api_path: str = ""
    dashboard: str = ""  # names.dashboard_name(stack, model, region); empty from older stacks


class ModelDirectory:
    """The models one stack lists, read once with GetParametersByPath (paginated,
    non-recursive: a model's parameter sits directly under the path)."""

    def __init__(self, ssm: Any, stack_name: str) -> None:
        self.ssm = ssm
        self.stack_name = stack_name
        self.path = names.model_directory_path(stack_name)
        self._models: list[DeployedModel] | None = None

    def models(self) -> list[DeployedModel]:
        """Every model of the deployment: the default first, then by name."""
        if self._models is None:
            paginator = self.ssm.get_paginator("get_parameters_by_path")
            parameters = [
                parameter
                for page in paginator.paginate(Path=self.path, Recursive=False)
                for parameter in page.get("Parameters", [])
            ]
            if not parameters:
                raise DeploymentNotFound(
                    f"stack {self.stack_name} has no models deployed (no parameters under "
                    f"{self.path}): check --stack / MODELSHIP_STACK and the AWS region"
                )
            models = [_entry(parameter) for parameter in parameters]
            self._models = sorted(models, key=lambda m: (not m.default, m.model))
        return list(self._models)

    def model_names(self) -> list[str]:
        return [model.model for model in self.models()]

    def get(self, name: str) -> DeployedModel:
        for model in self.models():
            if model.model == name:
                return model
        raise ModelNotDeployed(
            f"stack {self.stack_name} has no model {name!r}; "
            f"its models: {', '.join(self.model_names())}"
        )


def _entry(parameter: dict[str, Any]) -> DeployedModel:
    """The parameter's value as a DeployedModel whose name is the parameter's last segment."""
    name = str(parameter.get("Name", ""))
    try:
        value = json.loads(str(parameter.get("Value", "")))
    except ValueError:
        raise InvalidModelDirectory(f"parameter {name} is not JSON") from None
    if not isinstance(value, dict):
        raise InvalidModelDirectory(
            f"parameter {name} is not a JSON object (got {type(value).__name__})"
        )
    try:
        model = DeployedModel.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidModelDirectory(f"parameter {name} is not a model entry: {problems}") from None
    if name.rsplit("/", 1)[-1] != model.model:
        raise InvalidModelDirectory(
            f"parameter {name} describes model {model.model!r}, not the one it is named after"
        )
    return model
