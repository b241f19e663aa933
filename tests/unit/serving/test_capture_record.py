"""The capture record format and reading delivered objects back (what the drift monitor reads)."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

from modelship.serving.capture import CaptureRecord, read_capture_object

RECORD = CaptureRecord(
    request_id="req-1",
    model="churn",
    model_version="v3",
    captured_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    instances=[{"tenure": 3, "plan": "basic"}],
    predictions=[1],
    probabilities=[{"0": 0.25, "1": 0.75}],
    excluded_fields=["email"],
)


def test_a_record_is_one_compact_json_line_that_reads_back_equal() -> None:
    line = RECORD.line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert b": " not in line  # compact
    assert b", " not in line
    document = json.loads(line)
    assert document["format_version"] == 1
    assert document["model_version"] == "v3"
    assert CaptureRecord.model_validate(document) == RECORD


def test_plain_and_gzip_objects_of_concatenated_lines_read_the_same() -> None:
    other = RECORD.model_copy(update={"request_id": "req-2", "probabilities": None})
    body = RECORD.line() + other.line()
    for delivered in (body, gzip.compress(body)):
        records, malformed = read_capture_object(delivered)
        assert [r.request_id for r in records] == ["req-1", "req-2"]
        assert records[1].probabilities is None
        assert malformed == 0


def test_malformed_lines_are_counted_not_raised() -> None:
    body = b"\n".join(
        [
            RECORD.line().rstrip(b"\n"),
            b"{not json",
            b'{"format_version": 2}',  # another format
            b"[1, 2]",
            b"\xff\xfe",  # not UTF-8
            b"",  # blank lines are not records and not errors
            RECORD.model_copy(update={"request_id": "req-9"}).line(),
        ]
    )
    records, malformed = read_capture_object(body)
    assert [r.request_id for r in records] == ["req-1", "req-9"]
    assert malformed == 4


def test_a_truncated_gzip_object_keeps_the_lines_before_the_damage() -> None:
    lines = b"".join(RECORD.model_copy(update={"request_id": f"r{i}"}).line() for i in range(50))
    whole = gzip.compress(lines)
    records, malformed = read_capture_object(whole[: len(whole) - 30])
    assert 0 < len(records) < 50
    assert malformed <= 1
    assert records[0].request_id == "r0"


def test_an_unreadable_gzip_object_is_one_malformed_line() -> None:
    assert read_capture_object(b"\x1f\x8b" + b"garbage" * 10) == ([], 1)
    assert read_capture_object(b"") == ([], 0)
