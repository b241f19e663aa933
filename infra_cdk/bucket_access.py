"""Least-privilege read access to one prefix of a bucket."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3


def grant_prefix_read(
    role: iam.IRole, bucket: s3.IBucket, prefix: str, *, read_sid: str, list_sid: str
) -> None:
    """GetObject under `prefix`, and ListBucket limited to it: without ListBucket a missing key
    answers 403 instead of 404."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=read_sid, actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            sid=list_sid,
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [prefix, f"{prefix}*"]}},
        )
    )
