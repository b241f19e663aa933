"""The template's IAM in a moto world: the roles the functions and state machines run as, and
the policies resolved with the names the world gives its resources.

Functions created through `World.create_function` run as their template role (found by
handler); the release and retraining state machines run as theirs. The policies' ARNs are
resolved with the world's names (FUNCTION, BUCKET, the release functions' names), so a
statement that would allow a call on AWS allows it here, and only then.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from modelship import names
from modelship.local.iam import Authorizer, template_policies
from modelship.local.iam.policies import ACCOUNT, REGION, TemplatePolicies
from modelship.local.template import resources_of_type
from tests.conftest import BUCKET

STACK = "modelship-local"
PREDICT_FUNCTION = "modelship-predict"
ALIAS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREDICT_FUNCTION}:live"
OUTCOME_TOPIC = "modelship-retraining-outcomes"
RELEASE_MACHINE = "modelship-release"
_CDK_HASH = re.compile(r"[0-9A-F]{8}$")


def function_name(logical: str, handler: str) -> str:
    """The name the world gives the template's function `logical`."""
    if handler == names.PREDICT_HANDLER:
        return PREDICT_FUNCTION
    if handler in (names.RELEASE_HANDLER, names.ROLLBACK_HANDLER):
        return f"modelship-{handler.split('.')[1]}"
    return f"modelship-{logical.lower()[:40]}"


def _physical(logical: str) -> str:
    """The name the emulator's deployer would give (modelship.local.deployer)."""
    return f"{STACK}-{_CDK_HASH.sub('', logical)}"[:64]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


@cache
def world_names() -> tuple[dict[str, str], dict[str, str]]:
    """What Ref and Fn::GetAtt return for every resource of the release template in a world."""
    from tests.integration.release_template import release_template

    template = release_template()
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for logical, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        name = _physical(logical)
        if kind == "AWS::IAM::Role":
            refs[logical] = name
            attributes[f"{logical}.Arn"] = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        elif kind == "AWS::Lambda::Function":
            name = function_name(logical, props["Handler"])
            refs[logical] = name
            attributes[f"{logical}.Arn"] = _arn("lambda", f"function:{name}")
        elif kind == "AWS::Lambda::Alias":
            refs[logical] = ALIAS_ARN
        elif kind == "AWS::S3::Bucket":
            name = BUCKET if logical.startswith("ModelBucket") else name.lower()
            refs[logical] = name
            attributes[f"{logical}.Arn"] = f"arn:aws:s3:::{name}"
        elif kind == "AWS::Logs::LogGroup":
            name = props.get("LogGroupName") or f"/local/{name}"
            refs[logical] = name
            attributes[f"{logical}.Arn"] = _arn("logs", f"log-group:{name}:*")
        elif kind == "AWS::SNS::Topic":
            refs[logical] = _arn("sns", OUTCOME_TOPIC)
        elif kind == "AWS::StepFunctions::StateMachine":
            machine = props.get("StateMachineName") or RELEASE_MACHINE
            refs[logical] = _arn("states", f"stateMachine:{machine}")
            attributes[f"{logical}.Arn"] = refs[logical]
        elif kind == "AWS::SQS::Queue":
            url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            refs[logical] = url
            attributes[f"{logical}.Arn"] = _arn("sqs", name)
            attributes[f"{logical}.QueueName"] = name
            attributes[f"{logical}.QueueUrl"] = url
        elif kind == "AWS::KinesisFirehose::DeliveryStream":
            name = props.get("DeliveryStreamName") or name
            refs[logical] = name
            attributes[f"{logical}.Arn"] = _arn("firehose", f"deliverystream/{name}")
        elif kind == "AWS::Events::Rule":
            refs[logical] = name
            attributes[f"{logical}.Arn"] = _arn("events", f"rule/{name}")
        elif kind == "AWS::KinesisFirehose::DeliveryStream":
            stream = props.get("DeliveryStreamName") or name
            refs[logical] = stream
            attributes[f"{logical}.Arn"] = _arn("firehose", f"deliverystream/{stream}")
        else:
            refs[logical] = name
    return refs, attributes


@cache
def world_policies() -> TemplatePolicies:
    from tests.integration.release_template import release_template

    refs, attributes = world_names()
    return template_policies(release_template(), refs, attributes)


def world_authorizer() -> Authorizer:
    return Authorizer(world_policies())


def role_of(kind: str, match: str) -> tuple[str, str]:
    """(role name, trust policy) of the template's function with handler `match`, or of the
    state machine whose logical id starts with `match`."""
    from tests.integration.release_template import release_template

    template = release_template()
    refs, _ = world_names()
    for logical, resource in resources_of_type(template, kind).items():
        props = resource["Properties"]
        found = (
            props.get("Handler") == match
            if kind == "AWS::Lambda::Function"
            else logical.startswith(match)
        )
        if found:
            role = props["Role"] if "Role" in props else props["RoleArn"]
            role_logical = role["Fn::GetAtt"][0]
            trust = template["Resources"][role_logical]["Properties"]["AssumeRolePolicyDocument"]
            return refs[role_logical], json.dumps(trust)
    raise LookupError(f"no {kind} {match} in the release template")


def ensure_role(iam: Any, name: str, trust: str) -> str:
    """The role's ARN, creating it in moto on first use."""
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except iam.exceptions.NoSuchEntityException:
        return str(iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"])
