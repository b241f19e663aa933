"""Release history: one write-once S3 object per action under releases/<function>/, and the
questions the release actions ask of it (who owns the canary, which promotion to undo).

Keys start with a UTC timestamp to the microsecond, so listing order is time order, and every
put is conditional (`IfNoneMatch='*'`): a record is never overwritten, even by a racing writer.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from modelship.errors import HistoryConflict
from modelship.names import RELEASES_PREFIX

Action = Literal[
    "create",
    "canary_start",
    "canary_shift",
    "promote",
    "rollback",
    "verdict",
    "shadow_start",
    "shadow_stop",
]


class HistoryRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    action: Action
    time: datetime
    actor: str
    function_name: str
    alias: str
    # Lambda versions: what the alias served before and what it serves (or was given) after.
    from_version: str | None = None
    to_version: str | None = None
    from_model: str | None = None
    to_model: str | None = None
    weights_before: dict[str, float] = Field(default_factory=dict)
    weights_after: dict[str, float] = Field(default_factory=dict)
    reason: str = ""
    alarm: str | None = None
    execution: str | None = None
    # A canary verdict (action "verdict") or a shadow's agreement report (shadow_stop).
    details: dict[str, Any] | None = None

    def summary(self) -> str:
        moved = f"{self.from_version or '-'} -> {self.to_version or '-'}"
        weights = ",".join(f"v{v}={w:.0%}" for v, w in self.weights_after.items()) or "none"
        text = f"{self.time:%Y-%m-%dT%H:%M:%SZ}  {self.action:<13} {moved:<10} weights {weights}"
        if self.to_model:
            text += f"  model {self.to_model}"
        text += f"  by {self.actor}"
        if self.alarm:
            text += f"  alarm {self.alarm}"
        if self.reason:
            text += f"  ({self.reason})"
        return text


def history_prefix(function_name: str) -> str:
    return f"{RELEASES_PREFIX}/{function_name}/"


class ReleaseHistory:
    """Appends and reads the history of one function's releases in the model bucket."""

    def __init__(self, s3: Any, bucket: str, function_name: str) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.function_name = function_name

    def append(self, record: HistoryRecord) -> str:
        moment = record.time.astimezone(UTC)
        key = (
            f"{history_prefix(self.function_name)}{moment:%Y%m%dT%H%M%S.%fZ}-"
            f"{record.action}-{secrets.token_hex(3)}.json"
        )
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=record.model_dump_json().encode(),
                IfNoneMatch="*",
                ContentType="application/json",
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                raise HistoryConflict(f"history record {key} already exists") from None
            raise
        return key

    def keys(self) -> list[str]:
        keys: list[str] = []
        paginator = self.s3.get_paginator("list_objects_v2")
        prefix = history_prefix(self.function_name)
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return sorted(keys)

    def records(self, limit: int | None = None) -> list[HistoryRecord]:
        """Oldest first; with `limit`, only the newest `limit` records."""
        keys = self.keys()
        if limit is not None:
            keys = keys[-limit:] if limit > 0 else []
        return [self._read(key) for key in keys]

    def newest_first(self) -> Iterator[HistoryRecord]:
        for key in reversed(self.keys()):
            yield self._read(key)

    def canary_owner(self, candidate: str) -> HistoryRecord | None:
        """The latest record that started or shifted the canary of `candidate`."""
        for record in self.newest_first():
            if record.action in ("canary_start", "canary_shift") and record.to_version == candidate:
                return record
        return None

    def last_verdict(self, candidate: str) -> HistoryRecord | None:
        """The latest verdict on the canary of `candidate`, if one was judged since that
        canary started. Only records of those two actions are read (a key names its action)."""
        prefix = history_prefix(self.function_name)
        for key in reversed(self.keys()):
            action = key[len(prefix) :].split("-", 1)[-1].rsplit("-", 1)[0]
            if action not in ("verdict", "canary_start"):
                continue
            record = self._read(key)
            if record.to_version != candidate:
                continue
            if record.action == "verdict":
                return record
            if record.action == "canary_start":
                return None
        return None

    def promotion_of(self, version: str) -> HistoryRecord | None:
        """The record of the promotion that made `version` stable, if that is still the most
        recent change of the stable release."""
        for record in self.newest_first():
            if record.action == "promote":
                return record if record.to_version == version else None
            if record.action == "rollback" and record.from_version not in record.weights_before:
                return None  # this rollback moved the stable release (a canary's did not)
        return None

    def canary_cleared_since(self, since: datetime) -> HistoryRecord | None:
        """The latest rollback of a canary at or after `since`."""
        for record in self.newest_first():
            if record.time < since:
                return None
            if record.action == "rollback" and record.from_version in record.weights_before:
                return record
        return None

    def _read(self, key: str) -> HistoryRecord:
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return HistoryRecord.model_validate_json(body)
