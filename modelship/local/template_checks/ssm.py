"""Systems Manager parameters: the names, types and value sizes PutParameter accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

# SSM API reference, PutParameter, Name: a-zA-Z0-9_.- and "/" between hierarchy levels, at
# most fifteen levels, never prefixed with "aws" or "ssm" (case-insensitive); the 1011-character
# limit counts the parameter's whole ARN (CloudFormation's AWS::SSM::Parameter, Name).
PARAMETER_NAME = re.compile(r"/?[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
PARAMETER_ARN_MAX = 1011
PARAMETER_ARN_PREFIX = "arn:aws:ssm:us-east-1:123456789012:parameter"
PARAMETER_HIERARCHY_MAX = 15
# CloudFormation creates String and StringList parameters only (AWS::SSM::Parameter, Type).
PARAMETER_TYPES = frozenset({"String", "StringList"})
# SSM API reference, PutParameter, Value: 4 KB in the Standard tier, 8 KB in Advanced.
PARAMETER_VALUE_MAX = {"Standard": 4096, "Advanced": 8192}


def _parameter(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    name = ctx.text(props.get("Name"))
    if name is not None:
        arn = PARAMETER_ARN_PREFIX + ("" if name.startswith("/") else "/") + name
        if not PARAMETER_NAME.fullmatch(name):
            ctx.refuse("ssm-parameter-name", logical, "Name", name, "a-zA-Z0-9_.- and / only")
        elif name.lstrip("/").lower().startswith(("aws", "ssm")):
            ctx.refuse("ssm-parameter-name", logical, "Name", name, "no aws or ssm prefix")
        elif name.count("/") > PARAMETER_HIERARCHY_MAX:
            ctx.refuse(
                "ssm-parameter-name",
                logical,
                "Name",
                name,
                f"at most {PARAMETER_HIERARCHY_MAX} hierarchy levels",
            )
        elif len(arn) > PARAMETER_ARN_MAX:
            ctx.refuse(
                "ssm-parameter-name",
                logical,
                "Name",
                name,
                f"the parameter's ARN is {len(arn)} characters, AWS allows {PARAMETER_ARN_MAX}",
            )
    kind = props.get("Type")
    if kind not in PARAMETER_TYPES:
        ctx.refuse("ssm-parameter-type", logical, "Type", kind, "String or StringList")
    value = ctx.text(props.get("Value"))
    tier = str(props.get("Tier") or "Standard")
    maximum = PARAMETER_VALUE_MAX.get(tier, PARAMETER_VALUE_MAX["Standard"])
    if not value:
        ctx.refuse("ssm-parameter-value", logical, "Value", value, "a value is required")
    elif len(value.encode()) > maximum:
        ctx.refuse(
            "ssm-parameter-value",
            logical,
            "Value",
            f"{len(value.encode())} bytes",
            f"at most {maximum} bytes in the {tier} tier",
        )
    others = [
        other
        for other, resource in ctx.resources.items()
        if other < logical
        and resource.get("Type") == "AWS::SSM::Parameter"
        and name is not None
        and ctx.text((resource.get("Properties") or {}).get("Name")) == name
    ]
    if others:
        ctx.refuse(
            "ssm-parameter-name-unique",
            logical,
            "Name",
            name,
            f"{others[0]} has the same name (a name is unique in the Region)",
        )


RULES: dict[str, Rule] = {"AWS::SSM::Parameter": _parameter}
