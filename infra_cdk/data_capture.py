"""Data capture's delivery: the deployment's one Firehose delivery stream, which writes the
captured requests of every model to the model bucket, partitioned by model, version and hour
(docs/monitoring.md, "Data capture"), and the lifecycle rule that expires them.

The predict functions send the records (modelship.serving.capture); Firehose parses each
record's JSON (MetadataExtraction, JQ-1.6) for its `model` and `model_version` and buffers per
partition; records it cannot partition go under capture-errors/.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk import nag
from modelship import names

# The prefixes the emulator evaluates too (modelship.local.firehose_delivery).
CAPTURE_S3_PREFIX = (
    f"{names.CAPTURE_PREFIX}/!{{partitionKeyFromQuery:model}}/"
    "!{partitionKeyFromQuery:version}/!{timestamp:yyyy/MM/dd/HH}/"
)
CAPTURE_ERROR_PREFIX = (
    f"{names.CAPTURE_ERRORS_PREFIX}/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd/HH}}/"
)
PARTITION_QUERY = "{model: .model, version: .model_version}"
# Dynamic partitioning needs a buffer of at least 64 MiB (Firehose developer guide, "Buffering
# hints"); the interval (60-900 s) is what bounds the delay at capture's volumes: a partition
# is written at least every 5 minutes while it receives records.
BUFFER_SIZE_MIB = 64
BUFFER_INTERVAL_SECONDS = 300
# How long Firehose retries a delivery to S3 before it gives the records to the error prefix.
RETRY_SECONDS = 300
ERROR_LOG_STREAM = "S3Delivery"


class CaptureStream(Construct):
    """The delivery stream, its role (write under capture/ and capture-errors/ only) and the
    log group Firehose reports delivery errors to."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stack_name: str,
        bucket: s3.Bucket,
        log_retention: logs.RetentionDays,
        retention_days: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.stream_name = names.capture_stream_name(stack_name)
        self.log_group = logs.LogGroup(
            self, "ErrorLogGroup", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        log_stream = logs.LogStream(
            self, "ErrorLogStream", log_group=self.log_group, log_stream_name=ERROR_LOG_STREAM
        )
        self.role = self._role(bucket, log_stream)
        stream = firehose.CfnDeliveryStream(
            self,
            "Stream",
            delivery_stream_name=self.stream_name,
            delivery_stream_type="DirectPut",
            # Records at rest in Firehose's buffers: encrypted with an AWS owned key.
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=self._destination(bucket),
        )
        # Firehose checks its role when the stream is created: the policy must exist first.
        stream.node.add_dependency(self.role)
        self.stream = stream
        self.stream_arn = stream.attr_arn
        nag.capture_stream(self.role, bucket)
        self._expire_captures(bucket, retention_days)

    def _destination(
        self, bucket: s3.IBucket
    ) -> firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty:
        cfn = firehose.CfnDeliveryStream
        return cfn.ExtendedS3DestinationConfigurationProperty(
            bucket_arn=bucket.bucket_arn,
            role_arn=self.role.role_arn,
            prefix=CAPTURE_S3_PREFIX,
            error_output_prefix=CAPTURE_ERROR_PREFIX,
            buffering_hints=cfn.BufferingHintsProperty(
                interval_in_seconds=BUFFER_INTERVAL_SECONDS, size_in_m_bs=BUFFER_SIZE_MIB
            ),
            compression_format="GZIP",
            # The bucket encrypts with S3 managed keys (SSE-S3) by default: no KMS key here.
            encryption_configuration=cfn.EncryptionConfigurationProperty(
                no_encryption_config="NoEncryption"
            ),
            cloud_watch_logging_options=cfn.CloudWatchLoggingOptionsProperty(
                enabled=True,
                log_group_name=self.log_group.log_group_name,
                log_stream_name=ERROR_LOG_STREAM,
            ),
            dynamic_partitioning_configuration=cfn.DynamicPartitioningConfigurationProperty(
                enabled=True,
                retry_options=cfn.RetryOptionsProperty(duration_in_seconds=RETRY_SECONDS),
            ),
            processing_configuration=cfn.ProcessingConfigurationProperty(
                enabled=True,
                processors=[
                    cfn.ProcessorProperty(
                        type="MetadataExtraction",
                        parameters=[
                            cfn.ProcessorParameterProperty(
                                parameter_name="MetadataExtractionQuery",
                                parameter_value=PARTITION_QUERY,
                            ),
                            cfn.ProcessorParameterProperty(
                                parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"
                            ),
                        ],
                    )
                ],
            ),
        )

    def _role(self, bucket: s3.IBucket, log_stream: logs.LogStream) -> iam.Role:
        # Firehose developer guide, "Grant Firehose access to an Amazon S3 destination": the
        # S3 actions below on the bucket and its objects (here only the two prefixes), and
        # logs:PutLogEvents on the error log stream; the trust policy's sts:ExternalId is the
        # account ("Allow Firehose to assume an IAM role").
        role = iam.Role(
            self,
            "DeliveryRole",
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}},
            ),
            description="capture delivery stream: writes capture/ and capture-errors/ only",
        )
        objects = [
            bucket.arn_for_objects(f"{names.CAPTURE_PREFIX}/*"),
            bucket.arn_for_objects(f"{names.CAPTURE_ERRORS_PREFIX}/*"),
        ]
        role.add_to_policy(
            iam.PolicyStatement(sid="WriteCaptures", actions=["s3:PutObject"], resources=objects)
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CaptureMultipartUploads",
                actions=["s3:AbortMultipartUpload", "s3:GetObject"],
                resources=objects,
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CaptureBucket",
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                resources=[bucket.bucket_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="DeliveryErrorLog",
                actions=["logs:PutLogEvents"],
                resources=[self._log_stream_arn(log_stream)],
            )
        )
        return role

    def _log_stream_arn(self, log_stream: logs.LogStream) -> str:
        return (
            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:"
            f"{self.log_group.log_group_name}:log-stream:{log_stream.log_stream_name}"
        )

    def grant_put(self, function: lambda_.IFunction) -> None:
        """PutRecordBatch on this stream only: what a capturing predict function sends."""
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendCaptures", actions=["firehose:PutRecordBatch"], resources=[self.stream_arn]
            )
        )

    def _expire_captures(self, bucket: s3.Bucket, days: int) -> None:
        """Captures may hold personal data: current and noncurrent versions expire."""
        for rule_id, prefix in (
            ("expire-captures", names.CAPTURE_PREFIX),
            ("expire-capture-errors", names.CAPTURE_ERRORS_PREFIX),
        ):
            bucket.add_lifecycle_rule(
                id=rule_id,
                prefix=f"{prefix}/",
                expiration=Duration.days(days),
                noncurrent_version_expiration=Duration.days(1),
            )
