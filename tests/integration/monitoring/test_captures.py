"""A window of captured requests read back from S3: hour folders around the window, objects
by LastModified, the newest first up to the row cap."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from modelship import names
from modelship.monitoring.captures import CaptureReader, hour_prefixes
from modelship.serving.capture import CaptureRecord
from tests.conftest import BUCKET

MODEL, VERSION = "churn", "v1"


def _record(rows: int, version: str = VERSION, request: str = "r") -> CaptureRecord:
    return CaptureRecord(
        request_id=request,
        model=MODEL,
        model_version=version,
        captured_at=datetime.now(UTC),
        instances=[{"tenure_months": float(i), "contract": "one_year"} for i in range(rows)],
        predictions=[0] * rows,
    )


def _put(s3: Any, hour: datetime, name: str, *records: CaptureRecord, extra: bytes = b"") -> None:
    key = f"{names.capture_prefix(MODEL, VERSION)}{hour:%Y/%m/%d/%H}/{name}"
    body = gzip.compress(b"".join(r.line() for r in records) + extra)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def test_the_hour_folders_start_fifteen_minutes_before_the_window() -> None:
    start = datetime(2026, 3, 14, 10, 5, tzinfo=UTC)
    end = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)

    prefixes = hour_prefixes(MODEL, VERSION, start, end)

    assert prefixes == [f"capture/churn/v1/2026/03/14/{hour:02d}/" for hour in (9, 10, 11, 12)]


def test_a_window_holds_the_objects_written_in_it_whatever_their_folder(s3: Any) -> None:
    now = datetime.now(UTC)
    # Given an object written before the window, then two written in it, one of them in the
    # folder of 10 minutes before the window (Firehose's folder is the records' arrival hour,
    # up to 15 minutes before the object is written). S3's LastModified has whole seconds,
    # and so do the monitor's windows.
    _put(s3, now, "old", _record(3, request="old"))
    time.sleep(1.1)
    start = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    _put(s3, now, "a", _record(2, request="a"))
    _put(s3, start - timedelta(minutes=10), "b", _record(4, request="b"), extra=b"not json\n")
    end = datetime.now(UTC) + timedelta(seconds=1)

    window = CaptureReader(s3, BUCKET).window(MODEL, VERSION, start, end)

    assert sorted(r.request_id for r in window.records) == ["a", "b"]
    assert (window.objects, window.requests, window.rows, window.malformed) == (2, 2, 6, 1)
    assert not window.capped


def test_records_of_another_version_are_not_judged_with_this_one(s3: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    _put(s3, start, "mixed", _record(2), _record(5, version="v2"))

    window = CaptureReader(s3, BUCKET).window(
        MODEL, VERSION, start, datetime.now(UTC) + timedelta(seconds=1)
    )

    assert (window.rows, window.malformed) == (2, 1)


def test_past_the_row_cap_the_newest_objects_are_read_and_the_window_says_so(s3: Any) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    _put(s3, start, "first", _record(5, request="first"))
    time.sleep(1.1)
    _put(s3, start, "second", _record(5, request="second"))
    time.sleep(1.1)
    _put(s3, start, "third", _record(5, request="third"))

    window = CaptureReader(s3, BUCKET, max_rows=8).window(
        MODEL, VERSION, start, datetime.now(UTC) + timedelta(seconds=1)
    )

    assert [r.request_id for r in window.records] == ["third"]
    assert window.rows == 5
    assert window.capped
    assert window.skipped_objects == 1
