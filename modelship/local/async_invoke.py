"""Lambda's asynchronous invocation, as the emulator's EventBridge targets get it.

On AWS, EventBridge invokes a Lambda target asynchronously; a function error is then Lambda's
to handle by the function's EventInvokeConfig: the event is tried again up to
MaximumRetryAttempts times (0-2, default 2; a timeout is a function error too), and when every
attempt failed an invocation record goes to the OnFailure destination (AWS Lambda developer
guide, "How Lambda handles errors and retries with asynchronous invocation" and "Capturing
records of Lambda asynchronous invocations"). Here the retries follow at once instead of after
Lambda's one and two minutes, and the destination is an SQS queue on the moto server. As on
AWS, the function must bear the same event more than once. EventBridge's own RetryPolicy and
DeadLetterConfig cover only delivering to Lambda (modelship.local.eventbridge).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Lambda's default when a function has no EventInvokeConfig.
DEFAULT_RETRY_ATTEMPTS = 2


@dataclass(frozen=True)
class AsyncInvokeConfig:
    maximum_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    # ARN of the OnFailure destination (an SQS queue), if any.
    on_failure: str | None = None

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> AsyncInvokeConfig:
        """From an AWS::Lambda::EventInvokeConfig's properties, resolved."""
        retries = int(properties.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS))
        if not 0 <= retries <= DEFAULT_RETRY_ATTEMPTS:
            raise ValueError(f"MaximumRetryAttempts must be 0-2, got {retries}")
        destination = ((properties.get("DestinationConfig") or {}).get("OnFailure") or {}).get(
            "Destination"
        )
        return cls(retries, str(destination) if destination else None)


@dataclass(frozen=True)
class AsyncOutcome:
    attempts: int
    failed: bool
    # The last attempt's answer: the function's result, or its error.
    answer: Any
    # The invocation record sent to the on-failure destination, if one was.
    record: dict[str, Any] | None = None


# One attempt: (failed, the result or the error payload, the executed version).
Attempt = Callable[[], tuple[bool, Any, str]]
# (queue ARN, message body) -> None.
SendToQueue = Callable[[str, str], None]


def invoke_async(
    attempt: Attempt,
    event: Any,
    function_arn: str,
    config: AsyncInvokeConfig,
    send: SendToQueue,
) -> AsyncOutcome:
    """Runs `attempt` until it succeeds or the retries are spent; after the last failure the
    invocation record goes to the on-failure destination, so the event is never lost."""
    failed, answer, version = True, None, "$LATEST"
    attempts = 0
    while attempts <= config.maximum_retry_attempts:
        attempts += 1
        failed, answer, version = attempt()
        if not failed:
            return AsyncOutcome(attempts, False, answer)
    record = invocation_record(function_arn, event, answer, attempts, version)
    if config.on_failure is None:
        return AsyncOutcome(attempts, True, answer)
    send(config.on_failure, json.dumps(record, default=str))
    return AsyncOutcome(attempts, True, answer, record)


def invocation_record(
    function_arn: str, event: Any, error: Any, attempts: int, version: str
) -> dict[str, Any]:
    """The record Lambda sends to an on-failure destination after the retries."""
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": version,
            "functionError": "Unhandled",
        },
        "responsePayload": error,
    }


def send_to_sqs(account: str, region: str) -> SendToQueue:
    """Sends to a queue of the moto server this process runs (the emulator's, or a test's)."""

    def send(queue_arn: str, body: str) -> None:
        from moto.sqs.models import sqs_backends

        sqs_backends[account][region].send_message(queue_arn.rsplit(":", 1)[-1], body)

    return send
