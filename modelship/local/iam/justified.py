"""Allow statements no emulated path can need, each with the reason it stays.

The least-privilege measurement (least_privilege.py) accepts an Allow statement that no
recorded request needed only if it is listed here: (role logical-id pattern, the statement's
sorted actions, why). Anything else unneeded must be removed from the CDK app.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

JUSTIFIED: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "Model*PredictServicePredictRole*",
        ("s3:GetObject",),
        "a model's function reads its shadow state only while that model has a shadow: the "
        "shadow e2e tests (tests/e2e/test_shadow_*.py) shadow the default model, whose "
        "function exercises the same ShadowMirrorPolicy; another model's function lists the "
        "state key (needed) and finds none. Its model artifact read is the same action and is "
        "exercised by every model",
    ),
    (
        "Model*PredictServicePredictRole*",
        ("lambda:InvokeFunction",),
        "a model's function invokes a version of its own only to mirror requests to a running "
        "shadow: the shadow e2e tests shadow the default model, whose function exercises the "
        "same ShadowMirrorPolicy",
    ),
    (
        "*PredictRole*",
        ("s3:ListBucket",),
        "MODEL_VERSION=latest (documented for development) resolves by listing the model's "
        "versions, and only a role that may list hears 404 for a missing artifact (503 "
        "model_not_found, not an access error); every emulated release pins a version that "
        "exists",
    ),
    (
        "*",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
        "the Lambda service writes the function's logs with its role; the emulator keeps "
        "worker logs in files and makes no CloudWatch Logs calls",
    ),
    (
        "*",
        ("xray:PutTelemetryRecords", "xray:PutTraceSegments"),
        "active tracing: the Lambda runtime's X-Ray daemon sends segments with the function's "
        "role; tracing is off locally (POWERTOOLS_TRACE_DISABLED)",
    ),
    (
        "*",
        ("sqs:SendMessage",),
        "the on-failure destination of an asynchronous invocation: the Lambda service sends "
        "the failed event to the queue with the function's role; the emulator retries and "
        "routes the record itself (modelship.local.async_invoke) without authorizing the "
        "send as the role",
    ),
    (
        "*PredictRole*",
        ("firehose:PutRecordBatch",),
        "data capture is sampled (5% of requests by default): whether a model's function "
        "sends a record in a test run is chance; tests/e2e/test_data_capture.py captures every "
        "request of the default model's function and exercises its statement",
    ),
    (
        "*DataCaptureDeliveryRole*",
        ("s3:AbortMultipartUpload", "s3:GetObject"),
        "Firehose writes large objects as multipart uploads and aborts a failed one (the "
        "actions AWS lists for an S3 destination); the emulator delivers each call's records "
        "with one PutObject",
    ),
    (
        "*DataCaptureDeliveryRole*",
        ("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"),
        "bucket-level actions the Firehose service makes with the delivery role (the actions "
        "AWS lists for an S3 destination); the emulator's delivery only writes objects",
    ),
    (
        "*DataCaptureDeliveryRole*",
        ("logs:PutLogEvents",),
        "Firehose reports delivery errors to its CloudWatch Logs stream with the delivery "
        "role; the emulator records denied deliveries in activity.jsonl instead",
    ),
    (
        "*StateMachineRole*",
        (
            "logs:CreateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:DescribeLogGroups",
            "logs:DescribeResourcePolicies",
            "logs:GetLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:UpdateLogDelivery",
        ),
        "Step Functions sets up the state machine's log delivery with its role when the "
        "machine is created or updated (CloudFormation); executions make no such calls",
    ),
    (
        "*StateMachineRole*",
        (
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
            "xray:PutTelemetryRecords",
            "xray:PutTraceSegments",
        ),
        "Step Functions X-Ray tracing, made by the service with the machine's role; not emulated",
    ),
)


def justification(role_logical_id: str, actions: tuple[str, ...]) -> str | None:
    """Why an unneeded statement of this role with these actions stays, if it may."""
    for pattern, listed, reason in JUSTIFIED:
        if listed == tuple(sorted(actions)) and fnmatchcase(role_logical_id, pattern):
            return reason
    return None
