"""Reads resources out of a synthesized CloudFormation template (cdk.out/*.template.json),
resolving the intrinsic functions CDK writes into state machine definitions and env vars."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "modelship-local",
}


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def resources_of_type(template: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {
        logical: resource
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    }


def resolve(value: Any, refs: Mapping[str, str], attributes: Mapping[str, str]) -> Any:
    """Replaces Ref / Fn::GetAtt / Fn::Join / Fn::Sub. `refs` maps a logical id to what its
    Ref returns; `attributes` maps "LogicalId.Attribute" to a value."""
    if isinstance(value, list):
        return [resolve(item, refs, attributes) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return refs[arg] if arg in refs else PSEUDO[arg]
        if key == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return attributes[f"{logical}.{attribute}"]
        if key == "Fn::Join":
            separator, parts = arg
            return separator.join(str(resolve(p, refs, attributes)) for p in parts)
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else arg
            names = {
                **PSEUDO,
                **refs,
                **{k: resolve(v, refs, attributes) for k, v in variables.items()},
            }
            for name, replacement in sorted(names.items(), key=lambda kv: -len(kv[0])):
                text = text.replace("${" + name + "}", str(replacement))
            for name, replacement in attributes.items():
                text = text.replace("${" + name + "}", str(replacement))
            return text
    return {k: resolve(v, refs, attributes) for k, v in value.items()}


def state_machine_definition(
    template: Mapping[str, Any],
    refs: Mapping[str, str],
    attributes: Mapping[str, str],
    logical_id: str | None = None,
) -> str:
    """The ASL of the (only, or named) state machine with its tokens resolved."""
    machines = resources_of_type(template, "AWS::StepFunctions::StateMachine")
    if logical_id is None:
        if len(machines) != 1:
            raise ValueError(f"expected one state machine, found {sorted(machines)}")
        logical_id = next(iter(machines))
    properties = machines[logical_id]["Properties"]
    definition = properties.get("DefinitionString")
    if definition is None:
        return json.dumps(properties["Definition"])
    resolved = resolve(definition, refs, attributes)
    return resolved if isinstance(resolved, str) else json.dumps(resolved)
