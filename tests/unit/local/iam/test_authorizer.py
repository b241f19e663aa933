"""Policies read from a template and decided by the evaluator process, as AWS decides."""

from __future__ import annotations

from typing import Any

import pytest

from modelship.local.iam import AccessDenied, Authorizer, template_policies
from modelship.local.iam.evaluator import Evaluator, Simulation
from modelship.local.iam.policies import UnknownPolicy

ROLE_ARN = "arn:aws:iam::123456789012:role/stack-RollbackRole"
FN = "arn:aws:lambda:us-east-1:123456789012:function:stack-Predict"
RULE = "arn:aws:events:us-east-1:123456789012:rule/stack-AlarmRule"
TEMPLATE: dict[str, Any] = {
    "Resources": {
        "RollbackRole1234ABCD": {
            "Type": "AWS::IAM::Role",
            "Properties": {"AssumeRolePolicyDocument": {}},
        },
        "RollbackPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "RollbackRole1234ABCD"}],
                "PolicyName": "p",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "RouteAlias",
                            "Effect": "Allow",
                            "Action": ["lambda:GetAlias", "lambda:UpdateAlias"],
                            "Resource": {"Fn::GetAtt": ["Predict", "Arn"]},
                        },
                        {
                            "Sid": "ListHistory",
                            "Effect": "Allow",
                            "Action": "s3:ListBucket",
                            "Resource": "arn:aws:s3:::models",
                            "Condition": {"StringLike": {"s3:prefix": ["releases/*"]}},
                        },
                    ],
                },
            },
        },
        "AllowRule": {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["Predict", "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["AlarmRule", "Arn"]},
            },
        },
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "BucketPolicy": {
            "Type": "AWS::S3::BucketPolicy",
            "Properties": {
                "Bucket": {"Ref": "Bucket"},
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Deny",
                            "Principal": {"AWS": "*"},
                            "Action": "s3:*",
                            "Resource": "arn:aws:s3:::models/*",
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                },
            },
        },
    }
}
REFS = {
    "RollbackRole1234ABCD": "stack-RollbackRole",
    "Predict": "stack-Predict",
    "Bucket": "models",
}
ATTRIBUTES = {"Predict.Arn": FN, "AlarmRule.Arn": RULE}


@pytest.fixture(scope="module")
def evaluator() -> Any:
    evaluator = Evaluator()
    yield evaluator
    evaluator.stop()


@pytest.fixture
def authorizer(evaluator: Evaluator) -> Authorizer:
    return Authorizer(template_policies(TEMPLATE, REFS, ATTRIBUTES), evaluator)


def test_policies_are_grouped_by_role_and_resource() -> None:
    policies = template_policies(TEMPLATE, REFS, ATTRIBUTES)
    role = policies.role(ROLE_ARN)
    assert role is not None
    assert [(name, index) for name, index, _ in role.allow_statements()] == [
        ("RollbackPolicy", 1),
        ("RollbackPolicy", 2),
    ]
    assert role.policies[0][1]["Statement"][0]["Resource"] == FN
    permission = policies.resource_policy(FN)
    assert permission is not None
    assert permission["Statement"][0]["Condition"] == {"ArnLike": {"AWS:SourceArn": RULE}}
    assert policies.resource_policy("arn:aws:s3:::models") is not None


def test_an_unknown_managed_policy_is_refused() -> None:
    template = {
        "Resources": {
            "R": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]
                },
            }
        }
    }
    with pytest.raises(UnknownPolicy, match="AdministratorAccess"):
        template_policies(template, {}, {})


def test_an_allowed_call_is_kept_for_the_report(authorizer: Authorizer) -> None:
    authorizer.authorize_call(
        ROLE_ARN, "rollback", "lambda", "UpdateAlias", {"FunctionName": FN, "Name": "live"}
    )
    (allowed,) = authorizer.allowed
    assert (allowed.request.action, allowed.request.resource) == ("lambda:UpdateAlias", FN)
    assert authorizer.denied == []


def test_a_call_no_statement_allows_is_denied_as_aws_words_it(authorizer: Authorizer) -> None:
    with pytest.raises(AccessDenied) as denied:
        authorizer.authorize_call(
            ROLE_ARN, "rollback", "lambda", "PublishVersion", {"FunctionName": "stack-Predict"}
        )
    error = denied.value.error_response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/stack-RollbackRole/rollback is not "
        f"authorized to perform: lambda:PublishVersion on resource: {FN} because no "
        "identity-based policy allows the lambda:PublishVersion action"
    )
    (record,) = authorizer.denied
    assert record["role"] == ROLE_ARN
    assert record["action"] == "lambda:PublishVersion"


def test_the_prefix_condition_is_evaluated(authorizer: Authorizer) -> None:
    authorizer.authorize_call(
        ROLE_ARN, "s", "s3", "ListObjectsV2", {"Bucket": "models", "Prefix": "releases/f/"}
    )
    with pytest.raises(AccessDenied) as denied:
        authorizer.authorize_call(
            ROLE_ARN, "s", "s3", "ListObjectsV2", {"Bucket": "models", "Prefix": "models/"}
        )
    assert denied.value.error_response["Error"]["Code"] == "AccessDenied"
    assert denied.value.error_response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unmapped_call_is_denied_and_recorded(authorizer: Authorizer) -> None:
    with pytest.raises(AccessDenied, match="unmapped operation lambda:DeleteFunction"):
        authorizer.authorize_call(ROLE_ARN, "s", "lambda", "DeleteFunction", {"FunctionName": FN})
    assert authorizer.denied[0]["reason"] == "unmapped operation lambda:DeleteFunction"


def test_a_role_outside_the_template_has_no_permissions(authorizer: Authorizer) -> None:
    other = "arn:aws:iam::123456789012:role/other"
    with pytest.raises(AccessDenied):
        authorizer.authorize_call(
            other, "s", "lambda", "GetAlias", {"FunctionName": FN, "Name": "x"}
        )
    assert "not in the template" in authorizer.denied[0]["reason"]


def test_a_rule_invokes_only_with_its_own_source_arn(authorizer: Authorizer) -> None:
    allowed = authorizer.authorize_service(
        "events.amazonaws.com", "lambda:InvokeFunction", FN, RULE
    )
    denied = authorizer.authorize_service(
        "events.amazonaws.com", "lambda:InvokeFunction", FN, RULE + "-other"
    )
    assert (allowed.result, denied.result) == ("Allowed", "ImplicitlyDenied")
    assert authorizer.denied[0]["source_arn"] == RULE + "-other"


def test_a_resource_arn_of_the_wrong_type_is_an_error_not_a_decision(evaluator: Evaluator) -> None:
    decision = evaluator.decide(
        Simulation(
            principal="arn:aws:sts::123456789012:assumed-role/r/s",
            action="s3:GetObject",
            resource=FN,
            context={},
            identity_policies=(),
        )
    )
    assert decision.result == "Error"
    assert decision.error is not None
    assert "no.resource.types" in decision.error


def test_an_explicit_deny_in_a_resource_policy_wins(authorizer: Authorizer) -> None:
    decision = authorizer.evaluator.decide(
        Simulation(
            principal="arn:aws:sts::123456789012:assumed-role/stack-RollbackRole/s",
            action="s3:GetObject",
            resource="arn:aws:s3:::models/k",
            context={"aws:SecureTransport": "false"},
            identity_policies=(
                (
                    "p",
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
                        ],
                    },
                ),
            ),
            resource_policy=authorizer.policies.resource_policy("arn:aws:s3:::models"),
        )
    )
    assert decision.result == "ExplicitlyDenied"
    assert decision.decisive[0].policy_type == "resource"


def test_a_missing_key_is_404_only_to_a_role_that_may_list_it(authorizer: Authorizer) -> None:
    # S3 tells a caller that a key does not exist only if it may list the bucket at that key.
    # The role may list releases/* and nothing else.
    authorizer.missing_object(ROLE_ARN, "s", {"Bucket": "models", "Key": "releases/f/1.json"})

    with pytest.raises(AccessDenied) as denied:
        authorizer.missing_object(ROLE_ARN, "s", {"Bucket": "models", "Key": "models/x.json"})

    error = denied.value.error_response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied",
        403,
    )
    assert [r["action"] for r in authorizer.denied] == ["s3:ListBucket"]
