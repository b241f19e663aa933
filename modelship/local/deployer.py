"""Provisions a synthesized CDK template (cdk.out) on the emulator's moto server.

moto's CloudFormation cannot deploy the template as CDK writes it (it fails on a
Lambda::Permission that points at an alias), so each resource is created through the
service's own API (modelship.local.provisioners), in dependency order, with Ref,
Fn::GetAtt, Fn::Sub and Fn::Join resolved. A resource type outside `PROVISIONERS` and
`NOT_EMULATED` fails the deployment with a message naming it, and so does anything AWS
would refuse (modelship.local.template_checks), before anything is created. Nested stacks
are folded into the parent first (modelship.local.nested_stacks): the checks, the IAM
enforcement and the provisioners see one resource set.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelship.local.deployment import (
    Clients,
    Deployment,
    UnsupportedResource,
    physical_name,
)
from modelship.local.nested_stacks import NESTED_STACK_METADATA, flatten
from modelship.local.provisioners import PROVISIONERS, Provisioner
from modelship.local.template import load_template, resolve
from modelship.local.template_checks import refuse_invalid

# The deployer's surface; UnsupportedResource is also raised by the provisioners.
__all__ = [
    "NOT_EMULATED",
    "Deployer",
    "UnsupportedResource",
    "deployment_order",
    "find_template",
    "load_flat_template",
]

# What the emulator leaves out, and why; anything else unknown is refused.
NOT_EMULATED = {
    "AWS::CDK::Metadata": "metadata",
    # Enforced from the template by modelship.local.iam, not stored in moto.
    "AWS::IAM::Policy": "IAM is enforced from the template (modelship.local.iam)",
    "AWS::IAM::ManagedPolicy": "IAM is enforced from the template (modelship.local.iam)",
    "AWS::Lambda::Permission": "enforced from the template (modelship.local.iam)",
    "AWS::S3::BucketPolicy": "enforced from the template (modelship.local.iam)",
    "AWS::SNS::TopicPolicy": "enforced from the template (modelship.local.iam)",
    "AWS::SQS::QueuePolicy": "enforced from the template (modelship.local.iam)",
    "AWS::ApiGatewayV2::Api": "served by the local HTTP gateway",
    "AWS::ApiGatewayV2::Integration": "served by the local HTTP gateway",
    "AWS::ApiGatewayV2::Route": "served by the local HTTP gateway (routes read from the template)",
    "AWS::ApiGatewayV2::Stage": "served by the local HTTP gateway (throttling applied)",
    "AWS::ApiGatewayV2::Authorizer": "checked by the local HTTP gateway (a local JWT issuer)",
    "AWS::Lambda::EventInvokeConfig": "applied by the emulator's EventBridge delivery",
}
_SUB_NAMES = re.compile(r"\$\{([^}!][^}]*)\}")


def find_template(cdk_out: Path) -> Path:
    """The stack's template; its nested stacks' templates (*.nested.template.json) are
    read through it."""
    templates = sorted(
        t for t in cdk_out.glob("*.template.json") if not t.name.endswith(".nested.template.json")
    )
    if len(templates) != 1:
        raise FileNotFoundError(
            f"expected one stack template in {cdk_out}, found {[t.name for t in templates]}: "
            "run `make synth` first"
        )
    return templates[0]


def load_flat_template(path: Path) -> dict[str, Any]:
    """The template at `path` with its nested stacks folded in."""
    return flatten(load_template(path), path)


def _references(value: Any) -> set[str]:
    """Logical ids a property value refers to."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref" and isinstance(arg, str):
                return {arg}
            if key == "Fn::GetAtt":
                logical = arg[0] if isinstance(arg, list) else str(arg).split(".", 1)[0]
                return {logical}
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                found |= {m.split(".", 1)[0] for m in _SUB_NAMES.findall(text)}
                return found | _references(variables)
        for item in value.values():
            found |= _references(item)
    return found


def deployment_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids, each after everything it refers to or depends on."""
    pending = {
        logical: (
            _references(resource.get("Properties", {})) | set(_as_list(resource.get("DependsOn")))
        )
        & set(resources)
        for logical, resource in resources.items()
    }
    order: list[str] = []
    while pending:
        ready = sorted(lid for lid, deps in pending.items() if not deps - set(order))
        if not ready:
            raise UnsupportedResource(f"circular references between {sorted(pending)}")
        order += ready
        for lid in ready:
            del pending[lid]
    return order


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Deployer:
    """Walks a template: refuses what cannot be deployed, then provisions each resource
    (modelship.local.provisioners) after everything it refers to."""

    def __init__(self, clients: Clients, cdk_out: Path) -> None:
        self.clients = clients
        # Workers run in their own directories: code roots must be absolute.
        self.cdk_out = cdk_out.resolve()

    def check(self, template: Mapping[str, Any]) -> None:
        """Refuses a template with resource types the emulator does not support."""
        unsupported = sorted(
            f"{logical} ({resource.get('Type')})"
            for logical, resource in template.get("Resources", {}).items()
            if resource.get("Type") not in PROVISIONERS and resource.get("Type") not in NOT_EMULATED
        )
        if unsupported:
            raise UnsupportedResource(
                "the local emulator does not support these resources: " + ", ".join(unsupported)
            )

    def deploy(self, template_path: Path | None = None) -> Deployment:
        path = template_path or find_template(self.cdk_out)
        template = load_flat_template(path)
        self.check(template)
        validation = refuse_invalid(template, self.cdk_out)
        self.deployment = Deployment(
            stack_name=path.name.removesuffix(".template.json"), template=template
        )
        self.deployment.advisories = [str(finding) for finding in validation.advisories]
        provisioner = Provisioner(self.clients, self.deployment, self.cdk_out)
        resources = template.get("Resources", {})
        for logical in deployment_order(resources):
            resource = resources[logical]
            kind = resource["Type"]
            self.deployment.types[logical] = kind
            nested = (resource.get("Metadata") or {}).get(NESTED_STACK_METADATA)
            if nested:
                self.deployment.nested[logical] = str(nested)
            if kind in NOT_EMULATED:
                self._not_emulated(logical, resource)
                continue
            properties = self._resolve(resource.get("Properties", {}))
            PROVISIONERS[kind](provisioner, logical, properties)
        return self.deployment

    def _resolve(self, value: Any) -> Any:
        return resolve(value, self.deployment.refs, self.deployment.attributes)

    def _not_emulated(self, logical: str, resource: Mapping[str, Any]) -> None:
        deployment = self.deployment
        deployment.skipped[logical] = NOT_EMULATED[resource["Type"]]
        deployment.refs[logical] = physical_name(deployment.stack_name, logical)
        properties = resource.get("Properties") or {}
        if resource["Type"] == "AWS::ApiGatewayV2::Integration":
            uri = self._resolve(properties.get("IntegrationUri", ""))
            deployment.integrations[logical] = str(uri)
        if resource["Type"] == "AWS::ApiGatewayV2::Stage":
            deployment.stage_route_settings = dict(
                self._resolve(properties.get("DefaultRouteSettings") or {})
            )
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig":
            resolved = self._resolve(properties)
            deployment.async_invoke[str(resolved["FunctionName"])] = dict(resolved)
        if resource["Type"] == "AWS::ApiGatewayV2::Route":
            # The route goes to ITS integration ("integrations/<id>"): each model's routes to
            # that model's alias.
            target = _references(properties.get("Target"))
            integration = sorted(target & set(deployment.integrations))
            if len(integration) != 1:
                raise UnsupportedResource(
                    f"route {logical} ({properties.get('RouteKey')}): its Target names no "
                    "integration of the template; the local gateway serves integrated routes only"
                )
            deployment.routes[str(properties["RouteKey"])] = deployment.integrations[integration[0]]
            auth = ("AuthorizationType", "AuthorizerId", "AuthorizationScopes")
            deployment.route_auth[str(properties["RouteKey"])] = {
                key: self._resolve(properties[key]) for key in auth if key in properties
            }
        if resource["Type"] == "AWS::ApiGatewayV2::Authorizer":
            deployment.authorizers[deployment.refs[logical]] = self._resolve(properties)
