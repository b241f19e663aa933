"""DataCapture: sampling, excluded fields, PutRecordBatch limits and failure counting, with a
stub Firehose client (no network)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from modelship.serving.capture import (
    MAX_BATCH_BYTES,
    MAX_BATCH_RECORDS,
    MAX_RECORD_BYTES,
    CaptureRecord,
    DataCapture,
)
from modelship.serving.service import Prediction


def prediction(rows: int = 1, **row: Any) -> Prediction:
    row = row or {"tenure": 3, "plan": "basic", "email": "a@example.com"}
    return Prediction(
        model_name="churn",
        model_version="v3",
        predictions=[1] * rows,
        probabilities=[{"0": 0.25, "1": 0.75}] * rows,
        rows=rows,
        model_latency_ms=1.0,
        out_of_range_values=0,
        numeric_values=rows,
        instances=[dict(row) for _ in range(rows)],
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
    return DataCapture(client, "dev-capture", rate, **options)


def test_off_without_a_stream_or_at_rate_zero_creates_no_client_and_no_thread() -> None:
    made: list[str] = []

    def make_client() -> StubFirehose:
        made.append("client")
        return StubFirehose()

    for stream, rate in (("", 1.0), ("dev-capture", 0.0)):
        off = DataCapture.for_stream(make_client, stream, rate)
        assert not off.enabled
        assert off.offer("r1", prediction()) is False
        assert off._thread is None
    assert made == []
    assert DataCapture.for_stream(make_client, "dev-capture", 0.5).enabled
    assert made == ["client"]


def test_sampling_follows_the_injected_random_source() -> None:
    client = StubFirehose()
    source = draws(0.05, 0.5, 0.0999, 0.1, 0.9)
    sampled = capture(client, 0.1, draw=lambda: next(source))

    taken = [sampled.offer(f"r{i}", prediction()) for i in range(10)]
    sampled.flush(10)

    assert taken == [True, False, True, False, False] * 2
    assert [r.request_id for r in client.records()] == ["r0", "r2", "r5", "r7"]


def test_excluded_fields_are_removed_from_every_row_and_named() -> None:
    client = StubFirehose()
    captured = capture(client, exclude_fields=["phone", "email"])

    assert captured.offer("r1", prediction(rows=2))
    captured.flush(10)

    (record,) = client.records()
    assert record.instances == [{"tenure": 3, "plan": "basic"}] * 2
    assert record.excluded_fields == ["email", "phone"]
    assert (record.model, record.model_version, record.predictions) == ("churn", "v3", [1, 1])
    assert record.captured_at.tzinfo is not None


def test_calls_stay_within_500_records_and_4_mib() -> None:
    client = StubFirehose()
    client.gate.clear()  # hold the sender so every record is queued before the first call
    captured = capture(client)
    for i in range(1200):
        captured.offer(f"r{i}", prediction())
    client.gate.set()
    captured.flush(30)

    assert sum(len(call) for call in client.calls) == 1200
    assert max(len(call) for call in client.calls) == MAX_BATCH_RECORDS

    big = StubFirehose()
    big.gate.clear()
    captured = capture(big)
    wide = "x" * (900 * 1024)  # just under the record limit once encoded
    for i in range(10):
        captured.offer(f"r{i}", prediction(tenure=1, note=wide))
    big.gate.set()
    captured.flush(30)

    assert sum(len(call) for call in big.calls) == 10
    assert len(big.calls) >= 3
    assert all(sum(map(len, call)) <= MAX_BATCH_BYTES for call in big.calls)
    assert captured.take_failures() == 0


def test_a_record_over_1000_kib_is_dropped_and_counted() -> None:
    client = StubFirehose()
    captured = capture(client)

    assert captured.offer("big", prediction(note="x" * MAX_RECORD_BYTES))
    assert captured.offer("small", prediction())
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
        captured.offer(f"r{i}", prediction())
    client.gate.set()
    captured.flush(10)

    assert len(client.calls) == 2
    assert len(client.calls[1]) == 2  # only the refused entries are sent again
    assert captured.take_failures() == 1


def test_a_failing_client_never_reaches_the_caller_and_every_record_counts() -> None:
    captured = capture(StubFirehose(error=ConnectionError("endpoint down")))

    assert all(captured.offer(f"r{i}", prediction()) for i in range(3))
    captured.flush(10)

    assert captured.take_failures() == 3


def test_a_full_queue_drops_and_counts_without_waiting() -> None:
    client = StubFirehose()
    client.gate.clear()  # the sender is stuck on the network
    captured = capture(client, queue_size=3)

    taken = [captured.offer(f"r{i}", prediction()) for i in range(5)]

    assert taken == [True, True, True, False, False]
    assert captured.take_failures() == 2
    client.gate.set()
    captured.flush(10)
    assert len(client.records()) == 3


def test_a_broken_random_source_or_record_is_not_raised() -> None:
    def broken() -> float:
        raise RuntimeError("no entropy")

    assert capture(StubFirehose(), draw=broken).offer("r1", prediction()) is False

    client = StubFirehose()
    captured = capture(client)
    client.gate.clear()
    assert captured.offer("r1", prediction(when=object()))  # not JSON: fails in the sender
    assert captured.offer("r2", prediction())
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
        captured.offer(f"r{i}", prediction())
    captured.flush(10)  # well before the 30 s delay

    assert [len(call) for call in client.calls] == [3]
    assert captured.take_failures() == 0
