"""The shadow state object: its format, and reading it (absent means no shadow)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import ValidationError

from modelship.serving.shadow_state import ShadowState, read_shadow_state

DOCUMENT = {
    "format_version": 1,
    "model": "churn",
    "lambda_version": "7",
    "model_version": "v4",
    "sample_rate": 0.2,
    "started_at": "2026-11-28T10:00:00Z",
    "started_by": "arn:aws:iam::123456789012:user/ml",
}


class StubS3:
    def __init__(self, body: bytes | None = None, error: str | None = None) -> None:
        self.body, self.error = body, error
        self.keys: list[tuple[str, str]] = []

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.keys.append((Bucket, Key))
        if self.error is not None:
            raise ClientError({"Error": {"Code": self.error, "Message": "x"}}, "GetObject")
        return {"Body": io.BytesIO(self.body or b"")}


def test_the_documented_object_round_trips() -> None:
    state = ShadowState.parse(json.dumps(DOCUMENT))

    assert state.started_at == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert (state.lambda_version, state.sample_rate) == ("7", 0.2)
    assert ShadowState.parse(state.body()) == state


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sample_rate": 0}, "sample_rate"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"lambda_version": "$LATEST"}, "lambda_version"),
        ({"lambda_version": "live"}, "lambda_version"),
        ({"model": "Churn!"}, "model"),
        ({"format_version": 2}, "format_version"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_bad_state_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        ShadowState.parse(json.dumps({**DOCUMENT, **change}))


def test_the_state_is_read_from_the_models_key() -> None:
    s3 = StubS3(json.dumps(DOCUMENT).encode())

    state = read_shadow_state(s3, "bucket", "churn")

    assert state is not None
    assert state.model_version == "v4"
    assert s3.keys == [("bucket", "shadows/churn/active.json")]


# Without s3:ListBucket on the key, S3 answers a missing key 403, not 404.
@pytest.mark.parametrize("code", ["NoSuchKey", "AccessDenied"])
def test_a_missing_object_means_no_shadow(code: str) -> None:
    assert read_shadow_state(StubS3(error=code), "bucket", "churn") is None


def test_other_failures_and_another_models_state_are_raised() -> None:
    with pytest.raises(ClientError, match="SlowDown"):
        read_shadow_state(StubS3(error="SlowDown"), "bucket", "churn")
    with pytest.raises(ValueError, match="names model fraud, not churn"):
        read_shadow_state(StubS3(json.dumps({**DOCUMENT, "model": "fraud"}).encode()), "b", "churn")
    with pytest.raises(ValidationError):
        read_shadow_state(StubS3(b"not json"), "bucket", "churn")
