"""Lambda's asynchronous invocation as the emulator's EventBridge targets get it: retries by
the EventInvokeConfig, then the invocation record in the on-failure destination."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelship.local.async_invoke import AsyncInvokeConfig, invoke_async

ARN = "arn:aws:lambda:us-east-1:123456789012:function:rollback"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:rollback-failures"
EVENT = {"detail-type": "CloudWatch Alarm State Change", "detail": {"alarmName": "a"}}


class Function:
    """Fails its first `failures` attempts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    def __call__(self) -> tuple[bool, Any, str]:
        self.attempts += 1
        if self.attempts <= self.failures:
            return True, {"errorType": "ClientError", "errorMessage": "throttled"}, "$LATEST"
        return False, {"changed": True}, "$LATEST"


def test_a_failure_is_retried_and_a_later_success_sends_nothing() -> None:
    sent: list[tuple[str, str]] = []
    function = Function(failures=2)

    done = invoke_async(function, EVENT, ARN, AsyncInvokeConfig(2, QUEUE), _record(sent))

    assert (done.attempts, done.failed, done.answer) == (3, False, {"changed": True})
    assert sent == []


def test_after_the_last_retry_the_record_goes_to_the_on_failure_queue() -> None:
    sent: list[tuple[str, str]] = []

    config = AsyncInvokeConfig(1, QUEUE)

    done = invoke_async(Function(failures=9), EVENT, ARN, config, _record(sent))

    assert (done.attempts, done.failed) == (2, True)
    ((queue, body),) = sent
    record = json.loads(body)
    assert queue == QUEUE
    assert record["requestPayload"] == EVENT
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "throttled"


def test_without_a_destination_a_failed_event_is_only_reported() -> None:
    sent: list[tuple[str, str]] = []

    done = invoke_async(Function(failures=9), EVENT, ARN, AsyncInvokeConfig(0), _record(sent))

    assert (done.attempts, done.failed, done.record) == (1, True, None)
    assert sent == []


def test_the_config_is_read_from_the_template_and_checked() -> None:
    properties = {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig": {"OnFailure": {"Destination": QUEUE}},
    }

    assert AsyncInvokeConfig.from_properties(properties) == AsyncInvokeConfig(2, QUEUE)
    assert AsyncInvokeConfig.from_properties({}) == AsyncInvokeConfig(2, None)
    with pytest.raises(ValueError, match="MaximumRetryAttempts must be 0-2"):
        AsyncInvokeConfig.from_properties({"MaximumRetryAttempts": 3})


def _record(sent: list[tuple[str, str]]) -> Any:
    return lambda queue, body: sent.append((queue, body))
