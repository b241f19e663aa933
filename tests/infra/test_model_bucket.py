"""The model bucket keeps every model version safe and announces new objects."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template


def model_bucket(template: Template) -> tuple[str, dict]:
    buckets = template.find_resources("AWS::S3::Bucket")
    return next((name, res) for name, res in buckets.items() if name.startswith("ModelBucket"))


def test_versioned_encrypted_private_and_retained(template: Template) -> None:
    _, bucket = model_bucket(template)
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


def test_eventbridge_notifications_without_a_custom_resource(template: Template) -> None:
    _, bucket = model_bucket(template)
    assert bucket["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    assert not template.find_resources("Custom::S3BucketNotifications")


def test_noncurrent_versions_expire(template: Template) -> None:
    _, bucket = model_bucket(template)
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    assert any(
        rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays") == 90
        and rule["Status"] == "Enabled"
        for rule in rules
    )


def test_tls_only_policy(template: Template) -> None:
    bucket_id, _ = model_bucket(template)
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_server_access_logs_go_to_the_logs_bucket(template: Template) -> None:
    _, bucket = model_bucket(template)
    logging = bucket["Properties"]["LoggingConfiguration"]
    assert logging["DestinationBucketName"]["Ref"].startswith("AccessLogsBucket")
