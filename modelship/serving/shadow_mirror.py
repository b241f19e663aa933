"""The serving side of a shadow release: a sample of this version's answered predict requests,
mirrored to the shadow Lambda version with an asynchronous Invoke (docs/releases.md).

The request path only draws the sample and queues the request; a daemon sender thread reads
the shadow state (shadows/<model>/active.json) and sends the mirrors, so neither S3 nor
Lambda is ever waited for by a user. What the shadow answers, users never see.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from modelship import names
from modelship.serving.observability import MetricsSink
from modelship.serving.request_body import decode_body
from modelship.serving.service import Prediction
from modelship.serving.shadow_state import ShadowState

logger = logging.getLogger(__name__)

# Failures of the sender (S3 or Lambda unreachable) are logged at most this often: at 20%
# sampling a failing endpoint would otherwise write a warning per mirrored request.
WARNING_INTERVAL_SECONDS = 60.0
# The state is re-read every SHADOW_STATE_REFRESH_SECONDS times a factor drawn from this
# range, so the environments of one function do not all read it in the same second.
REFRESH_JITTER = (0.8, 1.2)


class MirrorEvent(BaseModel):
    """The event a shadow version receives under names.SHADOW_EVENT_KEY: the request as the
    serving version received it and the 200 answer it gave."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format_version: Literal[1] = 1
    model: str
    request_id: str = Field(max_length=256)
    served_model_version: str
    served_latency_ms: float
    sent_at: datetime
    body: str
    answer: dict[str, Any]

    def event(self) -> dict[str, Any]:
        return {names.SHADOW_EVENT_KEY: self.model_dump(mode="json")}


class LambdaClient(Protocol):
    def invoke(self, **kwargs: Any) -> Mapping[str, Any]: ...


class ShadowMirror:
    """Mirrors a sampled share of answered requests to the model's running shadow.

    `offer` (on the request path) never waits and never raises: it reads the shadow state the
    sender thread last read, draws the sample, and queues the request (a lock, a counter and
    a queue put). When the state is due for a refresh (every SHADOW_STATE_REFRESH_SECONDS,
    jittered; at once on the first request) it asks the sender thread to read it. The thread
    builds each mirror event, skips it when encoded larger than SHADOW_MAX_PAYLOAD_BYTES, and
    sends it as an asynchronous Invoke of the shadow version. Mirrors that reach Lambda and
    those that do not (queue full at SHADOW_QUEUE_LIMIT, too large, Invoke failed) are
    counted for the ShadowMirrored and ShadowSkipped metrics (`take_counts`).

    Off (no thread, no client) when the function's name is unknown (not on Lambda). Nothing
    is mirrored while the state is unknown, absent, or names this very version.
    """

    def __init__(
        self,
        make_client: Callable[[], LambdaClient] | None,
        read_state: Callable[[], ShadowState | None],
        *,
        function_name: str,
        function_version: str,
        model_name: str,
        max_body_bytes: int,
        draw: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        queue_limit: int = names.SHADOW_QUEUE_LIMIT,
        refresh_seconds: float = names.SHADOW_STATE_REFRESH_SECONDS,
        max_payload_bytes: int = names.SHADOW_MAX_PAYLOAD_BYTES,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.model_name = model_name
        self.enabled = bool(function_name)
        if self.enabled and make_client is None:
            raise ValueError(f"shadow mirroring of {function_name} is on but has no Lambda client")
        self._make_client = make_client
        self._client: LambdaClient | None = None
        self._read_state = read_state
        self._max_body_bytes = max_body_bytes
        self._draw = draw
        self._clock = clock
        self._queue_limit = queue_limit
        self._refresh_seconds = refresh_seconds
        self._max_payload_bytes = max_payload_bytes
        self._queue: queue.SimpleQueue[_Mirror | str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._state: ShadowState | None = None
        self._refresh_at = -math.inf  # the first request asks for the state
        self._refreshing = False
        self._pending = 0  # mirrors queued, not yet sent or skipped
        self._mirrored = 0
        self._skipped = 0
        self._warned_at = -math.inf
        self._thread: threading.Thread | None = None

    @classmethod
    def for_function(
        cls,
        make_client: Callable[[], LambdaClient],
        read_state: Callable[[], ShadowState | None],
        *,
        function_name: str,
        function_version: str,
        model_name: str,
        max_body_bytes: int,
    ) -> ShadowMirror:
        """The predict function's mirror; the client is made on the sender thread, when the
        first mirror is sent."""
        return cls(
            make_client,
            read_state,
            function_name=function_name,
            function_version=function_version,
            model_name=model_name,
            max_body_bytes=max_body_bytes,
        )

    @staticmethod
    def client_config() -> Any:
        """The Lambda client's: short timeouts and few retries, all on the sender thread, so
        a slow Lambda API delays mirrors, never predictions."""
        from botocore.config import Config

        return Config(
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": 2},
        )

    @property
    def state(self) -> ShadowState | None:
        """The shadow state as last read (None: none runs, or not read yet)."""
        return self._state

    def offer(
        self, request_id: str, body: str | None, base64_encoded: bool, prediction: Prediction
    ) -> bool:
        """True when this answered request was sampled and queued for the shadow."""
        try:
            if not self.enabled:
                return False
            if self._clock() >= self._refresh_at:
                self._ask_refresh()
            state = self._state
            if state is None or state.lambda_version == self.function_version:
                return False
            if self._draw() >= state.sample_rate:
                return False
            with self._lock:
                if self._pending >= self._queue_limit:
                    self._skipped += 1
                    return False
                self._pending += 1
                self._start_thread()
            self._queue.put(_Mirror(state, request_id, body, base64_encoded, prediction))
            return True
        except Exception:  # mirroring must never fail a prediction
            logger.warning("shadow offer failed", exc_info=True)
            return False

    def take_counts(self) -> tuple[int, int]:
        """(mirrored, skipped) since the last call, for the ShadowMirrored and ShadowSkipped
        metrics."""
        with self._lock:
            counts = (self._mirrored, self._skipped)
            self._mirrored = self._skipped = 0
        return counts

    def flush(self, timeout: float) -> None:
        """Waits (at most `timeout` seconds) until every queued mirror is sent or skipped and
        any asked-for refresh is done. For tests and benchmarks: requests never call it."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending or self._refreshing:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._idle.wait(left)

    def _ask_refresh(self) -> None:
        with self._lock:
            if self._refreshing or self._clock() < self._refresh_at:
                return
            self._refreshing = True
            self._start_thread()
        self._queue.put(_REFRESH)

    def _start_thread(self) -> None:
        # Under self._lock. Started by the first request, not at init: nothing runs in a
        # SnapStart snapshot.
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._send_forever, name="shadow-mirror", daemon=True
            )
            self._thread.start()

    def _send_forever(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Mirror):
                sent = False
                try:
                    sent = self._send(item)
                except Exception as exc:
                    self._warn("shadow mirror failed: %s", type(exc).__name__)
                with self._idle:
                    self._pending -= 1
                    if sent:
                        self._mirrored += 1
                    else:
                        self._skipped += 1
                    self._idle.notify_all()
            else:
                self._refresh()

    def _refresh(self) -> None:
        try:
            state = self._read_state()
            if state != self._state:
                logger.info(
                    "shadow state changed",
                    extra={"shadow": state.model_dump(mode="json") if state else None},
                )
            self._state = state
        except Exception as exc:  # keep what was known; read again at the next refresh
            self._warn("shadow state unreadable: %s", type(exc).__name__)
        finally:
            with self._idle:
                jitter = random.uniform(*REFRESH_JITTER)  # spreading, not security
                self._refresh_at = self._clock() + self._refresh_seconds * jitter
                self._refreshing = False
                self._idle.notify_all()

    def _send(self, mirror: _Mirror) -> bool:
        """One mirror as an asynchronous Invoke of the shadow version; False when skipped."""
        if len(mirror.body or "") > self._max_payload_bytes:
            return False  # too large before it is even decoded
        event = MirrorEvent(
            model=self.model_name,
            request_id=mirror.request_id,
            served_model_version=mirror.prediction.model_version,
            served_latency_ms=mirror.prediction.model_latency_ms,
            sent_at=datetime.now(UTC),
            body=decode_body(mirror.body, mirror.base64_encoded, self._max_body_bytes),
            answer=mirror.prediction.body(),
        )
        payload = json.dumps(event.event(), separators=(",", ":")).encode()
        if len(payload) > self._max_payload_bytes:
            return False
        if self._client is None:
            assert self._make_client is not None
            self._client = self._make_client()
        self._client.invoke(
            FunctionName=self.function_name,
            Qualifier=mirror.state.lambda_version,
            InvocationType="Event",
            Payload=payload,
        )
        return True

    def _warn(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARNING_INTERVAL_SECONDS:
            self._warned_at = now
            logger.warning(message, *args)


def record_mirrors(metrics: MetricsSink, mirrored: int, skipped: int) -> None:
    """ShadowMirrored / ShadowSkipped beside the request's predict metrics (same dimension
    sets, so call it after record_prediction). No alarm reads either."""
    from aws_lambda_powertools.metrics import MetricUnit

    if mirrored:
        metrics.add_metric(names.METRIC_SHADOW_MIRRORED, MetricUnit.Count, mirrored)
    if skipped:
        metrics.add_metric(names.METRIC_SHADOW_SKIPPED, MetricUnit.Count, skipped)


_REFRESH = "refresh"


@dataclass(frozen=True)
class _Mirror:
    state: ShadowState
    request_id: str
    body: str | None
    base64_encoded: bool
    prediction: Prediction
