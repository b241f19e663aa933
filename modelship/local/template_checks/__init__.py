"""What CloudFormation and the AWS services refuse in a synthesized template, found before
the emulator provisions anything.

moto accepts any name, period or size; AWS does not. Each rule checks one property the way
the service validates it and names its source in the AWS documentation (API references,
quotas pages), next to its limit in the module of its service. All findings are collected,
as a CloudFormation deployment reports them, and `refuse_invalid` raises one error listing
them all. Values built with intrinsic functions are checked with every generated name at its
longest (worst_case), so a finding there means the deployment can fail, depending on the
names CloudFormation picks.

Advisories are what the docs recommend but the service accepts; they never refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelship.local.template_checks import (
    apigateway,
    cloudwatch,
    eventbridge,
    firehose,
    iam,
    lambda_functions,
    logs,
    messaging,
    ssm,
    stepfunctions,
)
from modelship.local.template_checks.context import Context, Rule
from modelship.local.template_checks.findings import Finding, TemplateRefused, Validation
from modelship.local.template_checks.worst_case import WorstCase

__all__ = ["RULES", "Finding", "TemplateRefused", "Validation", "refuse_invalid", "validate"]

# The rules by resource type; a type missing here has no deploy-time checks.
RULES: dict[str, Rule] = {
    **iam.RULES,
    **lambda_functions.RULES,
    **stepfunctions.RULES,
    **cloudwatch.RULES,
    **logs.RULES,
    **eventbridge.RULES,
    **messaging.RULES,
    **apigateway.RULES,
    **ssm.RULES,
    **firehose.RULES,
}


def validate(template: Mapping[str, Any], cdk_out: Path | None = None) -> Validation:
    """Every finding in the template; `cdk_out` (the asset directories) enables the
    unzipped-size rule."""
    resources = template.get("Resources", {})
    ctx = Context(template, resources, WorstCase(resources), cdk_out, Validation())
    for logical, resource in resources.items():
        rule = RULES.get(resource.get("Type", ""))
        if rule is not None:
            rule(ctx, logical, resource.get("Properties") or {})
    return ctx.validation


def refuse_invalid(template: Mapping[str, Any], cdk_out: Path | None = None) -> Validation:
    """Raises TemplateRefused listing every finding, as a CloudFormation deployment fails;
    returns the validation otherwise."""
    validation = validate(template, cdk_out)
    if validation.refusals:
        raise TemplateRefused(validation.refusals)
    return validation
