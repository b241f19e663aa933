"""The IAM policies of a synthesized template, with their intrinsics resolved.

Identity policies per role (inline `Policies`, `AWS::IAM::Policy` resources attached through
`Roles`, AWS managed policies named in `ManagedPolicyArns`) and resource policies per resource
ARN (`AWS::Lambda::Permission` grouped by the function, alias or version it names, bucket,
topic and queue policies). Intrinsics are resolved with the refs and attributes the
emulator's deployer recorded (or a test's equivalent), so the ARNs in the policies are the
ARNs of the emulated resources.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelship.local.template import PSEUDO, resolve, resources_of_type

ACCOUNT = PSEUDO["AWS::AccountId"]
REGION = PSEUDO["AWS::Region"]

# The AWS managed policies a template may name, as AWS publishes them (AWS Managed Policy
# reference guide); any other managed policy is refused rather than guessed.
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
}


class UnknownPolicy(Exception):
    """The template names a managed policy whose text is not known here."""


@dataclass(frozen=True)
class RolePolicies:
    logical_id: str
    name: str
    arn: str
    # (policy name, document); a name is the IAM::Policy's logical id, the inline policy's
    # name, or the managed policy's name.
    policies: tuple[tuple[str, dict[str, Any]], ...]

    def allow_statements(self) -> list[tuple[str, int, dict[str, Any]]]:
        """(policy name, 1-based index, statement) of every Allow statement."""
        found = []
        for name, document in self.policies:
            for index, statement in enumerate(_statements(document), start=1):
                if statement.get("Effect") == "Allow":
                    found.append((name, index, statement))
        return found

    def without(self, policy: str, index: int) -> RolePolicies:
        """These policies with one statement (1-based index) left out."""
        kept = []
        for name, document in self.policies:
            if name == policy:
                statements = _statements(document)
                document = {**document, "Statement": statements[: index - 1] + statements[index:]}
            kept.append((name, document))
        return RolePolicies(self.logical_id, self.name, self.arn, tuple(kept))


@dataclass
class TemplatePolicies:
    roles: dict[str, RolePolicies] = field(default_factory=dict)  # by role ARN
    resource_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ARN

    def as_json(self) -> dict[str, Any]:
        return {
            "roles": {
                arn: {
                    "logical_id": r.logical_id,
                    "name": r.name,
                    "policies": [[n, d] for n, d in r.policies],
                }
                for arn, r in self.roles.items()
            },
            "resource_policies": self.resource_policies,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TemplatePolicies:
        roles = {
            arn: RolePolicies(
                r["logical_id"], r["name"], arn, tuple((n, d) for n, d in r["policies"])
            )
            for arn, r in data["roles"].items()
        }
        return cls(roles, dict(data["resource_policies"]))

    def role(self, arn: str) -> RolePolicies | None:
        return self.roles.get(arn)

    def resource_policy(self, arn: str) -> dict[str, Any] | None:
        return self.resource_policies.get(arn)


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def function_arn(name_or_arn: str) -> str:
    """The ARN Lambda gives a function name, partial ARN or ARN (qualifier kept)."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    parts = name_or_arn.split(":")
    if len(parts) >= 3 and parts[1] == "function":  # ACCOUNT:function:NAME[:QUALIFIER]
        return f"arn:aws:lambda:{REGION}:{name_or_arn}"
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name_or_arn}"


def template_policies(
    template: Mapping[str, Any], refs: Mapping[str, str], attributes: Mapping[str, str]
) -> TemplatePolicies:
    """Every role's identity policies and every resource policy in `template`."""
    found = TemplatePolicies()

    def value(v: Any) -> Any:
        return resolve(v, refs, attributes)

    by_role: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for logical, resource in resources_of_type(template, "AWS::IAM::Role").items():
        props = resource.get("Properties", {})
        policies = by_role.setdefault(logical, [])
        for inline in props.get("Policies", []):
            policies.append((str(inline["PolicyName"]), value(inline["PolicyDocument"])))
        for arn in props.get("ManagedPolicyArns", []):
            name = str(value(arn)).rsplit("/", 1)[-1]
            if name not in MANAGED_POLICIES:
                raise UnknownPolicy(
                    f"role {logical} uses the managed policy {name}, whose statements the "
                    "IAM evaluator does not know: add its text to MANAGED_POLICIES"
                )
            policies.append((name, MANAGED_POLICIES[name]))
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for logical, resource in resources_of_type(template, kind).items():
            props = resource.get("Properties", {})
            document = value(props["PolicyDocument"])
            for role in props.get("Roles", []):
                target = role.get("Ref") if isinstance(role, dict) else None
                if target is None:
                    target = next((lid for lid in by_role if refs.get(lid) == role), str(role))
                by_role.setdefault(target, []).append((logical, document))
    for logical, policies in by_role.items():
        name = refs.get(logical, logical)
        arn = attributes.get(f"{logical}.Arn", role_arn(name))
        found.roles[arn] = RolePolicies(logical, name, arn, tuple(policies))

    for logical, resource in resources_of_type(template, "AWS::Lambda::Permission").items():
        props = value(resource.get("Properties", {}))
        target = function_arn(str(props["FunctionName"]))
        statement: dict[str, Any] = {
            "Sid": logical,
            "Effect": "Allow",
            "Action": props["Action"],
            "Resource": target,
        }
        principal = str(props["Principal"])
        if principal.endswith(".amazonaws.com"):
            statement["Principal"] = {"Service": principal}
        else:
            statement["Principal"] = {"AWS": principal}
        conditions: dict[str, dict[str, str]] = {}
        if props.get("SourceArn"):
            conditions["ArnLike"] = {"AWS:SourceArn": str(props["SourceArn"])}
        if props.get("SourceAccount"):
            conditions["StringEquals"] = {"AWS:SourceAccount": str(props["SourceAccount"])}
        if conditions:
            statement["Condition"] = conditions
        policy = found.resource_policies.setdefault(
            target, {"Version": "2012-10-17", "Statement": []}
        )
        policy["Statement"].append(statement)

    for kind, key, to_arn in (
        ("AWS::S3::BucketPolicy", "Bucket", lambda name: f"arn:aws:s3:::{name}"),
        ("AWS::SNS::TopicPolicy", "Topics", str),
        ("AWS::SQS::QueuePolicy", "Queues", _queue_arn),
    ):
        for resource in resources_of_type(template, kind).values():
            props = value(resource.get("Properties", {}))
            for target in _as_list(props[key]):
                found.resource_policies[to_arn(str(target))] = props["PolicyDocument"]
    return found


def _queue_arn(url: str) -> str:
    # https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (what a queue's Ref returns)
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{REGION}:{account}:{name}"
