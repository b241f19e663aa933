"""Data capture: a sampled share of the predict function's requests and answers, one JSON line
per request, sent to the deployment's Firehose delivery stream, which writes them to the model
bucket under capture/<model>/<version>/<yyyy>/<MM>/<dd>/<HH>/ (docs/monitoring.md)."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

GZIP_MAGIC = b"\x1f\x8b"


class CaptureRecord(BaseModel):
    """One captured request: the validated rows (excluded fields removed) and the answer."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: Literal[1] = 1
    request_id: str
    model: str
    model_version: str
    captured_at: datetime  # UTC
    instances: list[dict[str, Any]]
    predictions: list[Any]
    probabilities: list[dict[str, float]] | None = None
    excluded_fields: list[str] = []

    def line(self) -> bytes:
        """The record as Firehose receives it: compact JSON and a newline, so the objects it
        concatenates are JSON lines."""
        return self.model_dump_json().encode() + b"\n"


def read_capture_object(body: bytes) -> tuple[list[CaptureRecord], int]:
    """A delivered S3 object (GZIP or plain JSON lines) -> (records, malformed line count).

    A line that is not a record of this format is counted, never raised: one bad record must
    not hide the others from the drift monitor. A truncated GZIP stream keeps what decoded."""
    text = _decompressed(body) if body[:2] == GZIP_MAGIC else body
    records: list[CaptureRecord] = []
    malformed = 0
    for raw in text.split(b"\n"):
        if not raw.strip():
            continue
        try:
            records.append(CaptureRecord.model_validate(json.loads(raw)))
        except (ValueError, ValidationError, TypeError):
            malformed += 1
    return records, malformed


def _decompressed(body: bytes) -> bytes:
    try:
        return gzip.decompress(body)
    except (OSError, EOFError, zlib.error):
        # Keep what decodes before the damage; the broken tail counts as malformed lines.
        decoder = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            partial = decoder.decompress(body)
        except zlib.error:
            return b"\x00"  # nothing readable: one malformed line
        return partial if partial else b"\x00"
