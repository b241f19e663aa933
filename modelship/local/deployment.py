"""What the emulator provisioned from a template: physical names and ARNs by logical id,
the functions' handlers and code roots, and the clients of the moto server it runs on."""

from __future__ import annotations

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
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    code_roots: dict[str, Path] = field(default_factory=dict)
    handlers: dict[str, str] = field(default_factory=dict)
    routes: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    advisories: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> dict[str, str]:
        return {lid: self.refs[lid] for lid, t in self.types.items() if t == kind}

    def function_with_handler(self, handler: str) -> str:
        found = [name for name, h in self.handlers.items() if h == handler]
        if len(found) != 1:
            raise UnsupportedResource(f"expected one function with handler {handler}: {found}")
        return found[0]

    def state_machine(self, logical_prefix: str) -> str | None:
        machines = self.of_type("AWS::StepFunctions::StateMachine")
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


def physical_name(stack: str, logical: str, limit: int = 64) -> str:
    """The name CloudFormation would generate, without its random suffix."""
    return f"{stack}-{_CDK_HASH.sub('', logical)}"[:limit]
