"""DataCapture: sampling, excluded fields, PutRecordBatch limits and failure counting, with a
stub Firehose client (no network)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from modelship.serving.capture import (
    MAX_BATCH_RECORDS,
    MAX_RECORD_BYTES,
    MEMORY_PER_BODY_BYTE,
    RETRY_PAUSE_SECONDS,
    CaptureRecord,
    DataCapture,
)
from modelship.serving.service import Prediction

BODY = 100  # bytes of a one-row request body


def prediction(rows: int = 1, **row: Any) -> Prediction:
    row = row or {"tenure": 3, "plan": "basic", "email": "a@example.com"}
    return Prediction(
        model_name="churn",
        model_version="v3",
        predictions=[1] * rows,
        classes=["0", "1"],
        probability_rows=[[0.25, 0.75]] * rows,
        rows=rows,
        model_latency_ms=1.0,
        out_of_range_values=0,
        numeric_values=rows,
        request=[dict(row) for _ in range(rows)],
    )


class StubFirehose:
    """Records each PutRecordBatch; `refuse(records, attempt)` picks the entries to refuse."""

    def __init__(self, refuse: Any = None, error: Exception | None = None) -> None:
        self.calls: list[list[bytes]] = []
        self.refuse = refuse or (lambda records, attempt: set())
        self.error = error
        self.gate = threading.Event()
        self.gate.set()

    def put_record_batch(
        self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]
    ) -> Mapping[str, Any]:
        self.gate.wait(10)
        assert DeliveryStreamName == "dev-capture"
        if self.error is not None:
            raise self.error
        data = [r["Data"] for r in Records]
        refused = self.refuse(data, len(self.calls))
        self.calls.append(data)
        responses = [
            {"ErrorCode": "ServiceUnavailableException"} if i in refused else {"RecordId": "x"}
            for i in range(len(data))
        ]
        return {"FailedPutCount": len(refused), "RequestResponses": responses}

    def records(self) -> list[CaptureRecord]:
        return [CaptureRecord.model_validate_json(line) for call in self.calls for line in call]


def draws(*values: float) -> Iterator[float]:
    return itertools.cycle(values)


def capture(client: StubFirehose, rate: float = 1.0, **options: Any) -> DataCapture:
    options.setdefault("pause", lambda seconds: None)
    return DataCapture(client, "dev-capture", rate, **options)


def request_size(call: list[bytes]) -> int:
    """The PutRecordBatch request as botocore sends it: JSON with each record in base64."""
    records = [{"Data": base64.b64encode(line).decode()} for line in call]
    return len(json.dumps({"DeliveryStreamName": "dev-capture", "Records": records}))


def test_off_without_a_stream_or_at_rate_zero_creates_no_client_and_no_thread() -> None:
    made: list[str] = []

    def make_client() -> StubFirehose:
        made.append("client")
        return StubFirehose()

    for stream, rate in (("", 1.0), ("dev-capture", 0.0)):
        off = DataCapture.for_stream(make_client, stream, rate)
        assert not off.enabled
        assert off.offer("r1", prediction(), BODY) is False
        assert off._thread is None
    assert made == []
    assert DataCapture.for_stream(make_client, "dev-capture", 0.5).enabled
    assert made == ["client"]


def test_sampling_follows_the_injected_random_source() -> None:
    client = StubFirehose()
    source = draws(0.05, 0.5, 0.0999, 0.1, 0.9)
    sampled = capture(client, 0.1, draw=lambda: next(source))

    taken = [sampled.offer(f"r{i}", prediction(), BODY) for i in range(10)]
    sampled.flush(10)

    assert taken == [True, False, True, False, False] * 2
    assert [r.request_id for r in client.records()] == ["r0", "r2", "r5", "r7"]


def test_excluded_fields_are_removed_from_every_row_and_named() -> None:
    client = StubFirehose()
    captured = capture(client, exclude_fields=["phone", "email"])

    assert captured.offer("r1", prediction(rows=2), BODY)
    captured.flush(10)

    (record,) = client.records()
    assert record.instances == [{"tenure": 3, "plan": "basic"}] * 2
    assert record.excluded_fields == ["email", "phone"]
    assert (record.model, record.model_version, record.predictions) == ("churn", "v3", [1, 1])
    assert record.captured_at.tzinfo is not None


def test_calls_stay_within_500_records_and_4_mb_as_sent() -> None:
    client = StubFirehose()
    client.gate.clear()  # hold the sender so every record is queued before the first call
    captured = capture(client)
    for i in range(1200):
        captured.offer(f"r{i}", prediction(), BODY)
    client.gate.set()
    captured.flush(30)

    assert sum(len(call) for call in client.calls) == 1200
    assert max(len(call) for call in client.calls) == MAX_BATCH_RECORDS

    big = StubFirehose()
    big.gate.clear()
    captured = capture(big)
    wide = "x" * (900 * 1024)  # just under the record limit once encoded
    for i in range(10):
        captured.offer(f"r{i}", prediction(tenure=1, note=wide), len(wide) + BODY)
    big.gate.set()
    captured.flush(30)

    assert sum(len(call) for call in big.calls) == 10
    assert len(big.calls) >= 3
    # 4 MB for the entire request, records base64-encoded in it (4,000,000 bytes, the stricter
    # reading): four of these records (3.6 MiB raw) would fit 4 MiB raw but not the request.
    assert all(request_size(call) <= 4_000_000 for call in big.calls)
    assert captured.take_failures() == 0


def test_a_record_over_1000_kib_is_dropped_and_counted() -> None:
    client = StubFirehose()
    captured = capture(client)

    assert captured.offer("big", prediction(note="x" * MAX_RECORD_BYTES), BODY)
    assert captured.offer("small", prediction(), BODY)
    captured.flush(10)

    assert [r.request_id for r in client.records()] == ["small"]
    assert captured.take_failures() == 1
    assert captured.take_failures() == 0  # taken once


def test_refused_entries_are_retried_once_then_counted() -> None:
    def refuse(records: list[bytes], attempt: int) -> set[int]:
        if attempt == 0:
            return {0, 2}  # first call: two refused
        return {i for i, r in enumerate(records) if b'"r2"' in r}  # r2 refused again

    client = StubFirehose(refuse=refuse)
    client.gate.clear()
    captured = capture(client)
    for i in range(4):
        captured.offer(f"r{i}", prediction(), BODY)
    client.gate.set()
    captured.flush(10)

    assert len(client.calls) == 2
    assert len(client.calls[1]) == 2  # only the refused entries are sent again
    assert captured.take_failures() == 1


def test_refused_entries_wait_a_random_pause_before_their_one_retry() -> None:
    client = StubFirehose(refuse=lambda records, attempt: {0} if attempt == 0 else set())
    client.gate.clear()
    paused: list[tuple[float, int]] = []  # (seconds, calls made when the pause began)
    captured = capture(client, pause=lambda seconds: paused.append((seconds, len(client.calls))))
    for i in range(3):
        captured.offer(f"r{i}", prediction(), BODY)
    client.gate.set()
    captured.flush(10)

    assert [len(call) for call in client.calls] == [3, 1]
    ((seconds, calls_before),) = paused
    low, high = RETRY_PAUSE_SECONDS
    assert low <= seconds <= high
    assert calls_before == 1  # between the refusal and the retry
    assert captured.take_failures() == 0


def test_nothing_pauses_when_firehose_takes_every_entry() -> None:
    paused: list[float] = []
    captured = capture(StubFirehose(), pause=paused.append)

    assert captured.offer("r1", prediction(), BODY)
    captured.flush(10)

    assert paused == []


def test_a_failing_client_never_reaches_the_caller_and_every_record_counts() -> None:
    captured = capture(StubFirehose(error=ConnectionError("endpoint down")))

    assert all(captured.offer(f"r{i}", prediction(), BODY) for i in range(3))
    captured.flush(10)

    assert captured.take_failures() == 3


def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    client = StubFirehose()
    client.gate.clear()  # the sender is stuck on the network
    captured = capture(client, queue_size=3)

    taken = [captured.offer(f"r{i}", prediction(), BODY) for i in range(5)]

    assert taken == [True, True, True, False, False]
    assert captured.take_failures() == 2
    client.gate.set()
    captured.flush(10)
    assert len(client.records()) == 3


def test_queued_bytes_are_bounded_too_and_drops_past_them_count() -> None:
    client = StubFirehose()
    client.gate.clear()  # the sender is stuck on the network (a throttled stream)
    body = 1000 * 1024  # a large request: its rows and answer take about 5 MB in memory
    room = 3 * MEMORY_PER_BODY_BYTE * body
    captured = capture(client, queue_size=10_000, queue_bytes=room)

    taken = [captured.offer(f"big{i}", prediction(), body) for i in range(5)]
    small_still_fits = captured.offer("small", prediction(), 0)

    assert taken == [True, True, True, False, False]  # far below the 10,000 records
    assert small_still_fits
    assert captured.take_failures() == 2
    client.gate.set()
    captured.flush(10)
    assert len(client.records()) == 4
    # Sent records free their bytes: the queue takes large requests again.
    assert captured.offer("big-again", prediction(), body)
    captured.flush(10)
    assert captured.take_failures() == 0


def test_a_broken_random_source_or_record_is_not_raised() -> None:
    def broken() -> float:
        raise RuntimeError("no entropy")

    assert capture(StubFirehose(), draw=broken).offer("r1", prediction(), BODY) is False

    client = StubFirehose()
    captured = capture(client)
    client.gate.clear()
    assert captured.offer("r1", prediction(when=object()), BODY)  # not JSON: fails in the sender
    assert captured.offer("r2", prediction(), BODY)
    client.gate.set()
    captured.flush(10)
    assert captured.take_failures() == 1
    assert [r.request_id for r in client.records()] == ["r2"]


def test_a_bad_rate_or_a_missing_client_is_refused() -> None:
    with pytest.raises(ValueError, match=r"sample rate 1\.5"):
        DataCapture(StubFirehose(), "dev-capture", 1.5)
    with pytest.raises(ValueError, match="no Firehose client"):
        DataCapture(None, "dev-capture", 0.5)


def test_records_arriving_within_the_delay_share_one_call_and_a_flush_ends_the_wait() -> None:
    client = StubFirehose()
    captured = capture(client, max_delay=30.0)

    for i in range(3):
        captured.offer(f"r{i}", prediction(), BODY)
    captured.flush(10)  # well before the 30 s delay

    assert [len(call) for call in client.calls] == [3]
    assert captured.take_failures() == 0
