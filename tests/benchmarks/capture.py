"""Data capture's cost on the request path: the warm predict handler for one row with capture
off, at rate 1.0 to a working Firehose stream (moto), and at rate 1.0 to a Firehose that
fails every call or answers after 200 ms (stub clients).

Each configuration is its own warm handler (its own module, its own DataCapture). They run
in alternating blocks of calls; before each block the working stream's sender is flushed
outside the timing, so no configuration is timed while another's sender thread works. The
working stream is a moto server in a process of its own: in Lambda, Firehose's work is not
done in the function's process, so it must not compete with the handler here either.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.names import PREDICT_HANDLER
from modelship.sample_events import http_api_event, load_event
from modelship.serving.capture import DataCapture
from tests.benchmarks.models import BUCKET, BenchModel, free_port, function_environment
from tests.benchmarks.stats import Summary, summarize
from tests.benchmarks.warm import QUIET

STREAM = "bench-capture"
SLOW_SECONDS = 0.2
BLOCK = 50
WARMUP = 20
CONFIGURATIONS = ("off", "working", "failing", "slow")


class _FailingFirehose:
    accepted = 0

    def put_record_batch(self, **_: Any) -> Mapping[str, Any]:
        raise ConnectionError("firehose endpoint unreachable")


class _SlowFirehose:
    def __init__(self) -> None:
        self.accepted = 0

    def put_record_batch(self, **kwargs: Any) -> Mapping[str, Any]:
        time.sleep(SLOW_SECONDS)
        self.accepted += len(kwargs["Records"])
        return {"FailedPutCount": 0, "RequestResponses": [{} for _ in kwargs["Records"]]}


@dataclass(frozen=True)
class CaptureFigure:
    calls: int
    summaries: dict[str, Summary]
    offered: int  # captured requests per capturing configuration (warm-up included)
    accepted: dict[str, int]  # records each Firehose accepted by the end of the run

    def ratio(self, configuration: str) -> float:
        return self.summaries[configuration].p50 / self.summaries["off"].p50


class WarmHandler:
    """The predict handler loaded once with `environment`; `call` times one invocation."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        with patched_environ(environment):
            self.module, self.handler = load_handler(PREDICT_HANDLER)
        self.context = FakeLambdaContext()

    def call(self, event: dict[str, Any]) -> float:
        started = time.perf_counter()
        response = self.handler(event, self.context)
        elapsed = time.perf_counter() - started
        if response["statusCode"] != 200:
            raise RuntimeError(f"handler answered {response['statusCode']}")
        return elapsed


def moto_client(service: str, endpoint: str, **options: Any) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        **options,
    )


def _delivered_lines(endpoint: str) -> int:
    """Records moto's Firehose wrote to S3 (one line each)."""
    s3 = moto_client("s3", endpoint)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="capture/").get("Contents", [])
    bodies = (s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed)
    return sum(body.count(b"\n") for body in bodies)


@contextlib.contextmanager
def _firehose_server() -> Iterator[str]:
    """A moto server process holding the capture bucket and the stream; yields its URL."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                moto_client("s3", endpoint).create_bucket(Bucket=BUCKET)
                break
            except Exception:
                time.sleep(0.1)
        _create_stream(endpoint)
        yield endpoint
    finally:
        server.terminate()
        server.wait(30)


def _create_stream(endpoint: str) -> None:
    moto_client("firehose", endpoint).create_delivery_stream(
        DeliveryStreamName=STREAM,
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "RoleARN": "arn:aws:iam::123456789012:role/bench",
            "Prefix": "capture/",
        },
    )


def measure_capture(endpoint: str, model: BenchModel, cache_dir: Path, calls: int) -> CaptureFigure:
    with _firehose_server() as firehose:
        return _measure(endpoint, firehose, model, cache_dir, calls)


def _measure(
    endpoint: str, firehose: str, model: BenchModel, cache_dir: Path, calls: int
) -> CaptureFigure:
    base = function_environment(endpoint, model, cache_dir)
    captured = {**base, "CAPTURE_STREAM": STREAM, "CAPTURE_SAMPLE_RATE": "1"}
    # The models come from `endpoint`; the captures go to the Firehose process.
    captured["AWS_ENDPOINT_URL_FIREHOSE"] = firehose
    row = json.loads(load_event("predict_valid")["body"])["instances"][0]
    event = http_api_event("POST", "/predict", json.dumps({"instances": [row]}))
    times: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    with contextlib.redirect_stdout(QUIET):
        handlers = {
            "off": WarmHandler(base),
            "working": WarmHandler(captured),
            "failing": WarmHandler(captured),
            "slow": WarmHandler(captured),
        }
        stubs = {"failing": _FailingFirehose(), "slow": _SlowFirehose()}
        for name, client in stubs.items():
            handlers[name].module.capture = DataCapture(client, STREAM, 1.0)
        working: DataCapture = handlers["working"].module.capture
        for handler in handlers.values():  # warm, and every sender thread started
            with patched_environ(handler.environment):
                for _ in range(WARMUP):
                    handler.call(event)
        for _ in range(max(1, calls // BLOCK)):
            for name, handler in handlers.items():
                working.flush(30)  # outside the timing: the sender is idle while timed
                with patched_environ(handler.environment):
                    times[name].extend(handler.call(event) for _ in range(BLOCK))
        for handler in handlers.values():
            handler.module.capture.flush(60)
    accepted = {"working": _delivered_lines(firehose)}
    accepted |= {name: stub.accepted for name, stub in stubs.items()}
    return CaptureFigure(
        calls=len(times["off"]),
        summaries={name: summarize(values) for name, values in times.items()},
        offered=len(times["working"]) + WARMUP,
        accepted=accepted,
    )


def _ms(value: float) -> str:
    return f"{value * 1000:.3f}"


def capture_section(figure: CaptureFigure | None) -> str:
    title = "## 11. Data capture on the request path (reference model, one row)\n\n"
    if figure is None:
        return title + "Not measured in this run."
    labels = {
        "off": "capture off",
        "working": "rate 1.0, working stream (moto)",
        "failing": "rate 1.0, Firehose failing every call (stub)",
        "slow": f"rate 1.0, Firehose answering after {SLOW_SECONDS * 1000:.0f} ms (stub)",
    }
    rows = [
        f"| {labels[name]} | {_ms(s.p50)} | {_ms(s.p90)} | {_ms(s.p99)} | "
        f"{figure.ratio(name):.2f} | "
        f"{figure.accepted.get(name, '-')} |"
        for name, s in figure.summaries.items()
    ]
    return (
        title + f"The whole warm handler, {figure.calls} calls per configuration in alternating "
        f"blocks of {BLOCK} (`tests/benchmarks/capture.py`). The request thread only draws the "
        "sample and queues the prediction; the sender thread encodes and sends. Each capturing "
        f"configuration captured {figure.offered} requests (warm-up included); the last column "
        "is how many of them its Firehose accepted (every other one is counted in "
        "CaptureFailures).\n\n"
        "| configuration | p50 ms | p90 ms | p99 ms | p50 / off | records accepted |\n"
        "|---|---|---|---|---|---|\n" + "\n".join(rows)
    )
