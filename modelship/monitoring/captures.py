"""A window of one model version's captured requests, read back from S3.

Firehose writes a version's captures under capture/<model>/<version>/<yyyy>/<MM>/<dd>/<HH>/,
the hour being when the records reached Firehose; the object itself is written when the
buffer flushes, up to 900 s later (the largest buffering interval, Amazon Data Firehose
developer guide, "Buffering hints"). So the hour folders listed start 15 minutes before the
window, and an object belongs to the window when its LastModified is in (start, end]: every
object is judged in exactly one window, whatever folder it sits in.

Reads are bounded: at most `max_rows` rows per window, the newest objects first; a window
with more says so (`capped`), and its older objects are left unread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from modelship import names
from modelship.serving.capture import CaptureRecord, read_capture_object

# Firehose's longest buffering interval: an object can land this long after its hour folder.
MAX_DELIVERY_DELAY = timedelta(seconds=900)
# Rows one window reads at most (about 2 KB each in memory for the reference model's 10
# features: some 100 MB at the cap, within the monitor's 1,024 MB).
DEFAULT_MAX_ROWS = 50_000


@dataclass(frozen=True)
class CapturedObject:
    key: str
    last_modified: datetime


@dataclass
class CaptureWindow:
    """The records of one window, the newest object first."""

    start: datetime
    end: datetime
    records: list[CaptureRecord] = field(default_factory=list)
    objects: int = 0  # objects read
    malformed: int = 0  # lines that were not records, and records of another model or version
    capped: bool = False  # more rows than max_rows: the oldest objects were not read
    skipped_objects: int = 0

    @property
    def rows(self) -> int:
        return sum(len(record.instances) for record in self.records)

    @property
    def requests(self) -> int:
        return len(self.records)

    def instances(self) -> list[dict[str, Any]]:
        return [row for record in self.records for row in record.instances]

    def predictions(self) -> list[Any]:
        return [value for record in self.records for value in record.predictions]

    def excluded_fields(self) -> list[str]:
        return sorted({name for record in self.records for name in record.excluded_fields})


def hour_prefixes(model: str, version: str, start: datetime, end: datetime) -> list[str]:
    """The hour folders that may hold objects written in (start, end]."""
    first = (start - MAX_DELIVERY_DELAY).replace(minute=0, second=0, microsecond=0)
    prefix = names.capture_prefix(model, version)
    hours = []
    at = first
    while at <= end:
        hours.append(f"{prefix}{at:%Y/%m/%d/%H}/")
        at += timedelta(hours=1)
    return hours


class CaptureReader:
    """Lists and reads a version's captured objects in one bucket. The client is passed in."""

    def __init__(self, s3: Any, bucket: str, max_rows: int = DEFAULT_MAX_ROWS) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, got {max_rows}")
        self.s3 = s3
        self.bucket = bucket
        self.max_rows = max_rows

    def objects(
        self, model: str, version: str, start: datetime, end: datetime
    ) -> list[CapturedObject]:
        """The objects whose LastModified is in (start, end], the newest first."""
        found = []
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix in hour_prefixes(model, version, start, end):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    modified = item["LastModified"]
                    if start < modified <= end:
                        found.append(CapturedObject(str(item["Key"]), modified))
        return sorted(found, key=lambda o: (o.last_modified, o.key), reverse=True)

    def window(self, model: str, version: str, start: datetime, end: datetime) -> CaptureWindow:
        """The window's records, up to max_rows rows (the newest objects first)."""
        window = CaptureWindow(start, end)
        objects = self.objects(model, version, start, end)
        for index, obj in enumerate(objects):
            body = self.s3.get_object(Bucket=self.bucket, Key=obj.key)["Body"].read()
            records, malformed = read_capture_object(body)
            window.objects += 1
            window.malformed += malformed
            for record in records:
                if (record.model, record.model_version) != (model, version) or len(
                    record.predictions
                ) != len(record.instances):
                    window.malformed += 1
                elif window.rows + len(record.instances) > self.max_rows:
                    window.capped = True
                else:
                    window.records.append(record)
            if window.capped:
                window.skipped_objects = len(objects) - index - 1
                break
        return window
