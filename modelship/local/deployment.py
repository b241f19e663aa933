"""What the emulator provisioned from a template: physical names and ARNs by logical id,
the functions' handlers and code roots, the HTTP API's routes, and the clients of the moto
server it runs on."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.template import PSEUDO

ACCOUNT = PSEUDO["AWS::AccountId"]
REGION = PSEUDO["AWS::Region"]
_CDK_HASH = re.compile(r"[0-9A-F]{8}$")


class UnsupportedResource(Exception):
    """The template holds a resource type the emulator cannot provision."""


@dataclass
class Deployment:
    """What was provisioned: physical names and ARNs by logical id, and the code roots."""

    stack_name: str
    # The template as provisioned: nested stacks folded in (modelship.local.nested_stacks).
    template: dict[str, Any] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    code_roots: dict[str, Path] = field(default_factory=dict)
    handlers: dict[str, str] = field(default_factory=dict)
    # Function name -> its environment variables as the template sets them.
    environments: dict[str, dict[str, str]] = field(default_factory=dict)
    # Route key ("POST /predict") -> the URI of its integration (an alias or function ARN).
    routes: dict[str, str] = field(default_factory=dict)
    # Route key -> its AuthorizationType, AuthorizerId and AuthorizationScopes, resolved.
    route_auth: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Authorizer id (its Ref) -> its properties, resolved (JwtConfiguration, IdentitySource).
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Integration logical id -> its IntegrationUri, resolved.
    integrations: dict[str, str] = field(default_factory=dict)
    # The API stage's DefaultRouteSettings (ThrottlingRateLimit, ThrottlingBurstLimit, ...).
    stage_route_settings: dict[str, Any] = field(default_factory=dict)
    # Function name -> its EventInvokeConfig properties, resolved (retries, destinations).
    async_invoke: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Logical id -> the nested stack(s) it came from; resources of the parent stack are absent.
    nested: dict[str, str] = field(default_factory=dict)
    # SSM parameter name -> value.
    parameters: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    advisories: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> dict[str, str]:
        return {lid: self.refs[lid] for lid, t in self.types.items() if t == kind}

    def in_parent(self, kind: str) -> dict[str, str]:
        """Resources of this type in the parent stack (none from a nested stack)."""
        return {lid: ref for lid, ref in self.of_type(kind).items() if lid not in self.nested}

    def function_with_handler(self, handler: str) -> str:
        """The function with this handler: the only one, else the only one in the parent
        stack (where a many-model deployment keeps its default model)."""
        found = [name for name, h in self.handlers.items() if h == handler]
        if len(found) > 1:
            parent = set(self.in_parent("AWS::Lambda::Function").values())
            found = [name for name in found if name in parent]
        if len(found) != 1:
            raise UnsupportedResource(f"expected one function with handler {handler}: {found}")
        return found[0]

    def state_machine(self, logical_prefix: str) -> str | None:
        """The parent stack's one state machine whose logical id starts with the prefix."""
        machines = self.in_parent("AWS::StepFunctions::StateMachine")
        found = [arn for lid, arn in machines.items() if lid.startswith(logical_prefix)]
        return found[0] if len(found) == 1 else None


@dataclass
class Clients:
    s3: Any
    lambda_: Any
    iam: Any
    sfn: Any
    cloudwatch: Any
    events: Any
    sns: Any
    logs: Any
    sts: Any
    sqs: Any
    ssm: Any
    firehose: Any


def physical_name(stack: str, logical: str, limit: int = 64) -> str:
    """The name CloudFormation would generate, without its random suffix. A name cut to the
    limit ends in a digest of the logical id instead (where CloudFormation puts its random
    suffix), so two long logical ids (a nested stack's prefix makes them long) never get
    one name."""
    name = f"{stack}-{_CDK_HASH.sub('', logical)}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(logical.encode()).hexdigest()[:10].upper()
    return f"{name[: limit - len(digest) - 1]}-{digest}"
