"""IAM enforcement for the local emulator and the tests: every AWS call made on behalf of a
function, a state machine or a rule is authorized against the synthesized template."""

from modelship.local.iam.authorizer import AccessDenied, AllowedRequest, Authorizer
from modelship.local.iam.enforcement import acting_as, enabled, enforce
from modelship.local.iam.policies import RolePolicies, TemplatePolicies, template_policies

__all__ = [
    "AccessDenied",
    "AllowedRequest",
    "Authorizer",
    "RolePolicies",
    "TemplatePolicies",
    "acting_as",
    "enabled",
    "enforce",
    "template_policies",
]
