"""How the CLI reports a failure, for every command: one line on stderr,
`error [<reason>]: <message>`, or under `--output json` one JSON object
`{"error": {"reason": ..., "message": ...}}`; the exit status is 1. Every exception a command
is expected to raise is mapped here; anything else is a bug and keeps its traceback."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from pydantic import ValidationError

from modelship.errors import ModelshipError

# AWS error codes (ClientError) -> reason codes, by what the operator has to do about them.
_CLIENT_ERROR_REASONS = {
    "NoSuchBucket": "bucket_not_found",
    "ResourceNotFoundException": "resource_not_found",
    "StateMachineDoesNotExist": "resource_not_found",
    "ExecutionDoesNotExist": "resource_not_found",
    "NoSuchKey": "resource_not_found",
    "NotFound": "resource_not_found",
    "404": "resource_not_found",
    "AccessDenied": "access_denied",
    "AccessDeniedException": "access_denied",
    "403": "access_denied",
    "UnrecognizedClientException": "invalid_credentials",
    "InvalidClientTokenId": "invalid_credentials",
    "InvalidAccessKeyId": "invalid_credentials",
    "SignatureDoesNotMatch": "invalid_credentials",
    "ExpiredToken": "invalid_credentials",
    "ExpiredTokenException": "invalid_credentials",
    "ThrottlingException": "throttled",
    "TooManyRequestsException": "throttled",
    "SlowDown": "throttled",
}


@dataclass(frozen=True)
class Failure:
    reason: str
    message: str

    def line(self) -> str:
        return f"error [{self.reason}]: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message}

    def as_json(self) -> str:
        return json.dumps({"error": self.as_dict()})


def failure_of(exc: BaseException) -> Failure | None:
    """The failure to report for `exc`, or None if it is not an expected outcome."""
    if isinstance(exc, ModelshipError):
        return Failure(exc.reason, _one_line(str(exc)) or type(exc).__name__)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Failure(
            "no_credentials",
            "no AWS credentials found: configure a profile (`aws configure`, AWS_PROFILE) or "
            "export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; for the local emulator run "
            '`eval "$(modelship local up --detach)"`',
        )
    if isinstance(exc, ProfileNotFound):
        return Failure("no_credentials", _one_line(str(exc)))
    if isinstance(exc, NoRegionError):
        return Failure("no_region", "no AWS region: set AWS_REGION (or a profile's region)")
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "the AWS endpoint")
        return Failure(
            "endpoint_unreachable",
            f"cannot reach {endpoint}: check the network, or AWS_ENDPOINT_URL "
            "(is the local emulator running? `modelship local status`)",
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        detail = _one_line(str(error.get("Message") or ""))
        subject = _subject(error)
        message = f"{exc.operation_name} {subject}failed: {code}" + (
            f": {detail}" if detail else ""
        )
        return Failure(_CLIENT_ERROR_REASONS.get(code, "aws_error"), message)
    if isinstance(exc, BotoCoreError):
        return Failure("aws_error", _one_line(str(exc)))
    if isinstance(exc, FileNotFoundError):
        return Failure("file_not_found", _one_line(str(exc)))
    if isinstance(exc, OSError):  # permission denied, a directory where a file was expected
        return Failure("file_error", _one_line(str(exc)) or type(exc).__name__)
    if isinstance(exc, ValidationError):  # a manifest, settings or params file of bad shape
        return Failure("invalid_input", _one_line(f"{exc.error_count()} invalid value(s): {exc}"))
    if isinstance(exc, json.JSONDecodeError):
        return Failure("invalid_input", _one_line(f"not valid JSON: {exc}"))
    return None


def report(failure: Failure, output: str, stream: TextIO | None = None) -> None:
    target = stream or sys.stderr
    print(failure.as_json() if output == "json" else failure.line(), file=target)


def _subject(error: dict[str, Any]) -> str:
    """The bucket a failed S3 call named (S3 returns it with NoSuchBucket)."""
    bucket = error.get("BucketName")
    return f"of bucket {bucket} " if bucket else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())
