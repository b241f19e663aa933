"""ShadowMirror: the state read off the request path, sampling, the queue bound, the payload
limit and failures counted, never raised; with stub clients (no network)."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from modelship import names
from modelship.serving.observability import record_prediction
from modelship.serving.service import Prediction
from modelship.serving.shadow_mirror import MirrorEvent, ShadowMirror, record_mirrors
from modelship.serving.shadow_state import ShadowState

BODY = '{"instances":[{"tenure":3}]}'
STATE = ShadowState(
    model="churn",
    lambda_version="7",
    model_version="v4",
    sample_rate=0.2,
    started_at=datetime(2026, 11, 28, 10, tzinfo=UTC),
    started_by="arn:aws:iam::123456789012:user/ml",
)


def prediction(rows: int = 1) -> Prediction:
    return Prediction(
        model_name="churn",
        model_version="v3",
        predictions=[1] * rows,
        classes=["0", "1"],
        probability_rows=[[0.25, 0.75]] * rows,
        rows=rows,
        model_latency_ms=3.25,
        out_of_range_values=0,
        numeric_values=rows,
    )


class StubLambda:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error
        self.gate = threading.Event()
        self.gate.set()

    def invoke(self, **kwargs: Any) -> Mapping[str, Any]:
        self.gate.wait(10)
        if self.error is not None:
            raise self.error
        self.calls.append(kwargs)
        return {"StatusCode": 202}

    def events(self) -> list[MirrorEvent]:
        return [
            MirrorEvent.model_validate(json.loads(c["Payload"])[names.SHADOW_EVENT_KEY])
            for c in self.calls
        ]


class States:
    """A shadow state source that counts its reads; `value` may be changed or raise."""

    def __init__(self, value: ShadowState | Exception | None = STATE) -> None:
        self.value = value
        self.reads = 0

    def __call__(self) -> ShadowState | None:
        self.reads += 1
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def draws(*values: float) -> Callable[[], float]:
    return itertools.cycle(values).__next__


def mirror(
    client: StubLambda | None = None, states: States | None = None, **options: Any
) -> ShadowMirror:
    stub = client or StubLambda()
    options.setdefault("draw", lambda: 0.0)
    return ShadowMirror(
        lambda: stub,
        states or States(),
        function_name="modelship-predict",
        function_version=options.pop("function_version", "3"),
        model_name="churn",
        max_body_bytes=6 * 1024 * 1024,
        **options,
    )


def ready(shadow: ShadowMirror) -> ShadowMirror:
    """The state read: the first request asks for it, the sender thread reads it."""
    assert shadow.offer("warm-up", BODY, False, prediction()) is False
    shadow.flush(10)
    assert shadow.state is not None
    return shadow


def test_off_without_a_function_name_reads_nothing_and_starts_no_thread() -> None:
    states = States()
    made: list[int] = []
    shadow = ShadowMirror(
        lambda: made.append(1) or StubLambda(),
        states,
        function_name="",
        function_version="$LATEST",
        model_name="churn",
        max_body_bytes=1024,
    )

    assert shadow.offer("r1", BODY, False, prediction()) is False
    shadow.flush(1)

    assert (shadow.enabled, states.reads, made) == (False, 0, [])
    assert shadow.take_counts() == (0, 0)


def test_the_first_request_asks_for_the_state_and_is_not_itself_mirrored() -> None:
    client, states = StubLambda(), States()
    shadow = mirror(client, states)

    assert shadow.offer("r0", BODY, False, prediction()) is False
    shadow.flush(10)

    assert states.reads == 1
    assert shadow.state == STATE
    assert client.calls == []


def test_a_sampled_request_is_sent_as_an_event_invoke_of_the_shadow_version() -> None:
    client = StubLambda()
    shadow = ready(mirror(client))

    assert shadow.offer("r1", BODY, False, prediction(rows=2)) is True
    shadow.flush(10)

    (call,) = client.calls
    assert (call["FunctionName"], call["Qualifier"], call["InvocationType"]) == (
        "modelship-predict",
        "7",
        "Event",
    )
    (event,) = client.events()
    assert (event.model, event.request_id, event.body) == ("churn", "r1", BODY)
    assert (event.served_model_version, event.served_latency_ms) == ("v3", 3.25)
    assert event.answer == prediction(rows=2).body()
    assert shadow.take_counts() == (1, 0)


def test_a_base64_body_is_mirrored_as_its_text() -> None:
    client = StubLambda()
    shadow = ready(mirror(client))

    shadow.offer("r1", base64.b64encode(BODY.encode()).decode(), True, prediction())
    shadow.flush(10)

    assert client.events()[0].body == BODY


def test_sampling_follows_the_shadows_rate_and_the_random_source() -> None:
    client = StubLambda()
    # 0.2: below 0.19 is sampled, 0.2 and above are not.
    shadow = ready(mirror(client, draw=draws(0.19, 0.2, 0.5, 0.0)))

    taken = [shadow.offer(f"r{i}", BODY, False, prediction()) for i in range(8)]
    shadow.flush(10)

    assert taken == [True, False, False, True] * 2
    assert [e.request_id for e in client.events()] == ["r0", "r3", "r4", "r7"]


def test_nothing_is_mirrored_without_a_shadow_or_to_the_version_itself() -> None:
    client = StubLambda()
    absent = mirror(client, States(None))
    absent.offer("r0", BODY, False, prediction())
    absent.flush(10)
    itself = ready(mirror(client, function_version="7"))

    assert absent.offer("r1", BODY, False, prediction()) is False
    assert itself.offer("r2", BODY, False, prediction()) is False
    assert client.calls == []


def test_the_state_is_read_again_only_after_the_refresh_interval_with_jitter() -> None:
    clock, states = Clock(), States()
    shadow = ready(mirror(states=states, clock=clock, refresh_seconds=30))

    clock.now += 30 * 0.8 - 0.01  # before the earliest jittered refresh
    shadow.offer("r1", BODY, False, prediction())
    shadow.flush(10)
    assert states.reads == 1

    clock.now += 30 * 0.4 + 0.02  # past the latest
    states.value = None  # the shadow was stopped
    shadow.offer("r2", BODY, False, prediction())
    shadow.flush(10)
    assert states.reads == 2
    assert shadow.state is None
    assert shadow.offer("r3", BODY, False, prediction()) is False


def test_an_unreadable_state_keeps_what_was_known_until_the_next_refresh() -> None:
    clock, states = Clock(), States()
    client = StubLambda()
    shadow = ready(mirror(client, states, clock=clock))

    states.value = ConnectionError("S3 unreachable")
    clock.now += 60
    shadow.offer("r1", BODY, False, prediction())
    shadow.flush(10)

    assert states.reads == 2
    assert shadow.state == STATE
    assert shadow.offer("r2", BODY, False, prediction()) is True


def test_a_full_queue_skips_and_counts_without_waiting() -> None:
    client = StubLambda()
    shadow = ready(mirror(client, queue_limit=3))
    client.gate.clear()  # the sender is stuck on the network

    taken = [shadow.offer(f"r{i}", BODY, False, prediction()) for i in range(5)]

    assert taken == [True, True, True, False, False]
    assert shadow.take_counts() == (0, 2)
    client.gate.set()
    shadow.flush(10)
    assert len(client.calls) == 3
    assert shadow.take_counts() == (3, 0)


def test_a_mirror_over_the_payload_limit_is_skipped_and_counted() -> None:
    client = StubLambda()
    shadow = ready(mirror(client, max_payload_bytes=2048))
    small = json.dumps({"instances": [{"tenure": 1}]})
    # The body alone fits; with the answer of 100 rows the event does not.
    answered = json.dumps({"instances": [{"tenure": 1}] * 100})
    huge = "x" * 4096

    assert shadow.offer("small", small, False, prediction()) is True
    assert shadow.offer("answered", answered, False, prediction(rows=100)) is True
    assert shadow.offer("huge", huge, False, prediction()) is True
    shadow.flush(10)

    assert [e.request_id for e in client.events()] == ["small"]
    assert all(len(c["Payload"]) <= 2048 for c in client.calls)
    assert shadow.take_counts() == (1, 2)


def test_a_failing_client_never_reaches_the_caller_and_every_mirror_counts() -> None:
    shadow = ready(mirror(StubLambda(error=ConnectionError("Lambda unreachable"))))

    assert all(shadow.offer(f"r{i}", BODY, False, prediction()) for i in range(3))
    shadow.flush(10)

    assert shadow.take_counts() == (0, 3)


def test_a_broken_random_source_or_state_source_is_not_raised() -> None:
    def broken() -> float:
        raise RuntimeError("no entropy")

    shadow = ready(mirror(draw=broken))
    failing = mirror(states=States(RuntimeError("boom")))

    assert shadow.offer("r1", BODY, False, prediction()) is False
    assert failing.offer("r2", BODY, False, prediction()) is False
    failing.flush(10)
    assert failing.state is None


def test_on_without_a_client_factory_is_refused() -> None:
    with pytest.raises(ValueError, match=r"modelship-predict.*no Lambda client"):
        ShadowMirror(
            None,
            States(),
            function_name="modelship-predict",
            function_version="3",
            model_name="churn",
            max_body_bytes=1024,
        )


def test_mirror_counts_ride_on_the_predict_dimension_sets() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship", service="predict")

    record_prediction(metrics, "churn", prediction())
    record_mirrors(metrics, 2, 1)

    document = metrics.serialize_metric_set()
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert len(directive["Dimensions"]) == 2
    assert (document["ShadowMirrored"], document["ShadowSkipped"]) == ([2.0], [1.0])


def test_no_mirror_count_is_written_when_there_is_none() -> None:
    metrics = AmazonCloudWatchEMFProvider(namespace="modelship", service="predict")
    record_prediction(metrics, "churn", prediction())

    record_mirrors(metrics, 0, 0)

    document = metrics.serialize_metric_set()
    assert "ShadowMirrored" not in document
    assert "ShadowSkipped" not in document
