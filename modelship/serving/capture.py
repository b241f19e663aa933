"""Data capture: a sampled share of the predict function's requests and answers, one JSON line
per request, sent to the deployment's Firehose delivery stream, which writes them to the model
bucket under capture/<model>/<version>/<yyyy>/<MM>/<dd>/<HH>/ (docs/monitoring.md)."""

from __future__ import annotations

import gzip
import json
import logging
import queue
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from modelship.serving.columns import Columns
from modelship.serving.service import Prediction

logger = logging.getLogger(__name__)

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


# PutRecordBatch: at most 500 records per call, a record at most 1,000 KiB before base64
# encoding, "up to a limit of 4 MB for the entire request" (Amazon Data Firehose API
# reference, PutRecordBatch, Record). The 4 MB is not said to be before base64, and the
# request carries each record base64-encoded in its JSON body, so a call is budgeted as sent:
# every record's base64 text and its framing within 4,000,000 bytes (the decimal, stricter
# reading of 4 MB), less room for the stream's name. That is about 2.86 MiB of raw records.
MAX_BATCH_RECORDS = 500
MAX_REQUEST_BYTES = 4_000_000
REQUEST_ENVELOPE_BYTES = 1024  # {"DeliveryStreamName":"<at most 64>","Records":[...]}
RECORD_FRAMING_BYTES = len('{"Data":""},')
MAX_RECORD_BYTES = 1000 * 1024
# Records waiting to be sent; past either bound a record is dropped (and counted), never
# waited for. Each queued request holds its parsed rows and its answer (up to maxRows rows),
# so the queue is bounded by their estimated memory too: a slow or throttled Firehose must not
# grow the function past its memory. Parsed JSON takes about 4.6 bytes of Python objects per
# byte of request body (rows of numbers and short strings, with the answer's probabilities;
# measured with tracemalloc), so a request counts as 5 times its body's length.
DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_QUEUE_BYTES = 64 * 1024 * 1024
MEMORY_PER_BODY_BYTE = 5
# A refused entry (ErrorCode, e.g. ServiceUnavailableException: the stream is throttling) is
# sent once more after a pause of this many seconds, drawn at random so that many environments
# refused at once do not retry at once. Only the sender thread waits.
RETRY_PAUSE_SECONDS = (0.1, 0.5)
# How long the sender waits for more records before a call: each PutRecordBatch costs about
# as much CPU in this process as a prediction, so one call carries many requests when they
# come often (tests/benchmarks/capture.py measures it).
DEFAULT_MAX_DELAY_SECONDS = 1.0


class FirehoseClient(Protocol):
    def put_record_batch(
        self, *, DeliveryStreamName: str, Records: list[dict[str, bytes]]
    ) -> Mapping[str, Any]: ...


class DataCapture:
    """Sends a sampled share of predictions to a Firehose delivery stream, off the request path.

    `offer` draws the sample and puts the request on a bounded in-memory queue (a lock, a
    counter and a queue put: it never waits on the network, never raises); a daemon thread
    waits up to `max_delay` for more records, builds the JSON lines, batches them within
    PutRecordBatch's limits and sends them, retrying once, after a short random pause, the
    entries Firehose refused. The queue is bounded by records (`queue_size`) and by their
    estimated memory (`queue_bytes`, from each request body's length). Every record that does
    not reach Firehose (queue full, over 1,000 KiB, refused twice, or the call failed) is a
    failure, reported by `take_failures` as the CaptureFailures metric.

    Loss bound: Lambda freezes the environment between invocations, and the thread runs only
    while it is thawed, so what the last invocations queued is sent when the next one thaws
    it. Records still queued when an environment is shut down (those of its last `max_delay`
    seconds of traffic, and at most the queue's size) are lost without a failure counted:
    Lambda gives a function without an extension no shutdown signal to flush on.
    """

    def __init__(
        self,
        client: FirehoseClient | None,
        stream: str,
        sample_rate: float,
        exclude_fields: Iterable[str] = (),
        *,
        draw: Callable[[], float] = random.random,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        queue_bytes: int = DEFAULT_QUEUE_BYTES,
        max_delay: float = DEFAULT_MAX_DELAY_SECONDS,
        pause: Callable[[float], None] = time.sleep,
    ) -> None:
        if not 0.0 <= sample_rate <= 1.0:
            raise ValueError(f"capture sample rate {sample_rate} is not between 0 and 1")
        self.stream = stream
        self.sample_rate = sample_rate
        self.enabled = bool(stream) and sample_rate > 0.0
        if self.enabled and client is None:
            raise ValueError(f"capture to {stream} is on but no Firehose client was given")
        self.exclude_fields = tuple(sorted(set(exclude_fields)))
        self._excluded = frozenset(self.exclude_fields)
        self._client = client
        self._draw = draw
        self._queue: queue.SimpleQueue[_Offered | None] = queue.SimpleQueue()
        self._queue_size = queue_size
        self._queue_bytes = queue_bytes
        self._max_delay = max_delay
        self._pause = pause
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # offered, not yet sent or counted as failed
        self._pending_bytes = 0  # their estimated memory
        self._failures = 0
        self._thread: threading.Thread | None = None

    @classmethod
    def for_stream(
        cls,
        make_client: Callable[[], FirehoseClient],
        stream: str,
        sample_rate: float,
        exclude_fields: Iterable[str] = (),
    ) -> DataCapture:
        """Creates the client only when capture is on: off means no client and no thread."""
        enabled = bool(stream) and sample_rate > 0.0
        return cls(make_client() if enabled else None, stream, sample_rate, exclude_fields)

    @staticmethod
    def client_config() -> Any:
        """The Firehose client's: short timeouts and a few retries, all on the sender thread,
        so a slow endpoint delays captures, never predictions."""
        from botocore.config import Config

        return Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": 3},
        )

    def offer(self, request_id: str, prediction: Prediction, body_bytes: int) -> bool:
        """True when the request was sampled and queued for capture. `body_bytes`, the
        request body's length, sizes what the queued prediction holds in memory."""
        try:
            if not self.enabled or self._draw() >= self.sample_rate:
                return False
            size = MEMORY_PER_BODY_BYTE * max(body_bytes, 0)
            with self._lock:
                if (
                    self._pending >= self._queue_size
                    or self._pending_bytes + size > self._queue_bytes
                ):
                    self._failures += 1
                    return False
                self._pending += 1
                self._pending_bytes += size
                if self._thread is None:
                    # Started by the first captured request, not at init: nothing runs in a
                    # SnapStart snapshot, and an unsampled function never starts it.
                    self._thread = threading.Thread(
                        target=self._send_forever, name="data-capture", daemon=True
                    )
                    self._thread.start()
            self._queue.put(_Offered(request_id, prediction, datetime.now(UTC), size))
            return True
        except Exception:  # capture must never fail a prediction
            logger.warning("capture offer failed", exc_info=True)
            return False

    def take_failures(self) -> int:
        """Records lost since the last call (for the CaptureFailures metric)."""
        with self._lock:
            failures, self._failures = self._failures, 0
        return failures

    def flush(self, timeout: float) -> None:
        """Waits (at most `timeout` seconds) until every queued record is sent or counted.
        For tests, benchmarks and shutdown hooks: the request path never calls it."""
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._queue.put(None)  # ends the sender's wait for more records
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._idle.wait(left)

    def record(self, offered: _Offered) -> CaptureRecord:
        prediction = offered.prediction
        excluded = self._excluded
        if isinstance(prediction.request, Columns):  # rows built here, for sampled requests
            instances = prediction.request.instances(excluded)
        elif excluded:
            instances = [
                {k: v for k, v in row.items() if k not in excluded} for row in prediction.instances
            ]
        else:
            instances = prediction.instances
        return CaptureRecord(
            request_id=offered.request_id,
            model=prediction.model_name,
            model_version=prediction.model_version,
            captured_at=offered.captured_at,
            instances=instances,
            predictions=prediction.predictions,
            probabilities=prediction.probabilities,
            excluded_fields=list(self.exclude_fields),
        )

    def _send_forever(self) -> None:
        while True:
            batch = self._next_batch()
            if not batch:
                continue
            lost = 0
            try:
                lost = self._send(batch)
            except Exception:
                logger.warning("capture send failed", exc_info=True)
                lost = len(batch)
            finally:
                with self._idle:
                    self._failures += lost
                    self._pending -= len(batch)
                    self._pending_bytes -= sum(offered.size for offered in batch)
                    if not self._pending:
                        self._idle.notify_all()

    def _next_batch(self) -> list[_Offered]:
        """What arrives within `max_delay` of the first record (at most 500): one call for
        many requests, not one each. A flush ends the wait."""
        first = self._queue.get()
        batch = [first] if isinstance(first, _Offered) else []
        deadline = time.monotonic() + self._max_delay
        while batch and len(batch) < MAX_BATCH_RECORDS:
            left = deadline - time.monotonic()
            try:
                item = self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, _Offered):
                break
            batch.append(item)
        return batch

    def _send(self, batch: list[_Offered]) -> int:
        """Sends one drained batch in calls within the limits; returns the records lost."""
        lost = 0
        lines: list[bytes] = []
        for offered in batch:
            try:
                line = self.record(offered).line()
            except Exception:  # a value JSON cannot hold: this record only
                logger.warning("capture record not encodable", exc_info=True)
                lost += 1
                continue
            if len(line) > MAX_RECORD_BYTES:
                lost += 1
            else:
                lines.append(line)
        for call in _calls(lines):
            lost += self._put(call)
        return lost

    def _put(self, lines: list[bytes]) -> int:
        """One PutRecordBatch, then the entries Firehose refused once more; returns the lost."""
        assert self._client is not None
        for attempt in range(2):
            try:
                answer = self._client.put_record_batch(
                    DeliveryStreamName=self.stream, Records=[{"Data": line} for line in lines]
                )
            except Exception as exc:
                logger.warning("capture PutRecordBatch failed: %s", type(exc).__name__)
                return len(lines)
            if not answer.get("FailedPutCount"):
                return 0
            responses = answer.get("RequestResponses", [])
            refused = [
                line
                for line, response in zip(lines, responses, strict=False)
                if response.get("ErrorCode")
            ]
            if attempt == 0 and refused:
                lines = refused
                self._pause(random.uniform(*RETRY_PAUSE_SECONDS))  # jitter, not security
                continue
            return len(refused) or int(answer["FailedPutCount"])
        return 0


@dataclass(frozen=True)
class _Offered:
    request_id: str
    prediction: Prediction
    captured_at: datetime
    size: int  # estimated memory, counted against the queue's bytes


def _request_bytes(line: bytes) -> int:
    """What one record adds to a PutRecordBatch request as sent: base64 text and framing."""
    return 4 * ((len(line) + 2) // 3) + RECORD_FRAMING_BYTES


def _calls(lines: list[bytes]) -> Iterator[list[bytes]]:
    """Lines grouped into PutRecordBatch calls of at most 500 records and 4 MB as sent."""
    room = MAX_REQUEST_BYTES - REQUEST_ENVELOPE_BYTES
    call: list[bytes] = []
    size = 0
    for line in lines:
        encoded = _request_bytes(line)
        if call and (len(call) == MAX_BATCH_RECORDS or size + encoded > room):
            yield call
            call, size = [], 0
        call.append(line)
        size += encoded
    if call:
        yield call
