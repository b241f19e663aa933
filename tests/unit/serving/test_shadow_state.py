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
    """One object at shadows/churn/active.json (`body`), or none; `error` fails the read."""

    def __init__(self, body: bytes | None = None, error: str | None = None) -> None:
        self.body, self.error = body, error
        self.calls: list[tuple[str, str, str]] = []

    def list_objects_v2(self, *, Bucket: str, Prefix: str, MaxKeys: int) -> dict[str, Any]:
        self.calls.append(("list", Bucket, Prefix))
        key = "shadows/churn/active.json"
        listed = [{"Key": key}] if self.body is not None and key.startswith(Prefix) else []
        return {"Contents": listed} if listed else {}

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append(("get", Bucket, Key))
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


def test_the_state_is_listed_then_read_from_the_models_key() -> None:
    s3 = StubS3(json.dumps(DOCUMENT).encode())

    state = read_shadow_state(s3, "bucket", "churn")

    assert state is not None
    assert state.model_version == "v4"
    assert s3.calls == [
        ("list", "bucket", "shadows/churn/active.json"),
        ("get", "bucket", "shadows/churn/active.json"),
    ]


def test_a_missing_object_means_no_shadow_without_reading_it() -> None:
    s3 = StubS3(None)

    assert read_shadow_state(s3, "bucket", "churn") is None
    assert [call[0] for call in s3.calls] == ["list"]


def test_an_object_gone_between_listing_and_reading_means_no_shadow() -> None:
    assert read_shadow_state(StubS3(b"{}", error="NoSuchKey"), "bucket", "churn") is None


def test_other_failures_and_another_models_state_are_raised() -> None:
    with pytest.raises(ClientError, match="AccessDenied"):
        read_shadow_state(StubS3(b"{}", error="AccessDenied"), "bucket", "churn")
    with pytest.raises(ValueError, match="names model fraud, not churn"):
        read_shadow_state(StubS3(json.dumps({**DOCUMENT, "model": "fraud"}).encode()), "b", "churn")
    with pytest.raises(ValidationError):
        read_shadow_state(StubS3(b"not json"), "bucket", "churn")
