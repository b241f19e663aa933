"""Shadow mirroring's cost on the stable version's request path: the warm predict handler for
one row with no shadow running, and with a shadow at sample 20% sent to a working Lambda API
(moto), to one that fails every call, and to one that answers after 200 ms (stub clients).

Each configuration is its own warm handler (its own module, its own ShadowMirror, the state
already read). They run in alternating blocks of calls; before each block the working
client's sender is flushed outside the timing, as in tests/benchmarks/capture.py. The
working Lambda API is a moto server in a process of its own: Lambda's work is not done in
the function's process, so it must not compete with the handler here either.

    .venv/bin/python -m tests.benchmarks.shadow [--quick]   (writes nothing; prints section 13)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelship import names
from modelship.local.handler_runner import patched_environ
from modelship.sample_events import http_api_event, load_event
from modelship.serving.shadow_mirror import ShadowMirror
from modelship.serving.shadow_state import ShadowState
from tests.benchmarks.capture import WarmHandler, moto_client
from tests.benchmarks.models import BenchModel, free_port, function_environment
from tests.benchmarks.stats import Summary, summarize
from tests.benchmarks.warm import QUIET

FUNCTION = "bench-predict"
SAMPLE_RATE = 0.2
SLOW_SECONDS = 0.2
BLOCK = 50
WARMUP = 20
TARGET_MS = 1.0
CONFIGURATIONS = ("off", "working", "failing", "slow")


class _Counting:
    """A Lambda client that counts the invocations it got accepted."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.accepted = 0
        self._lock = threading.Lock()

    def invoke(self, **kwargs: Any) -> Mapping[str, Any]:
        answer: Mapping[str, Any] = self.client.invoke(**kwargs)
        with self._lock:
            self.accepted += 1
        return answer


class _Failing:
    accepted = 0

    def invoke(self, **_: Any) -> Mapping[str, Any]:
        raise ConnectionError("lambda endpoint unreachable")


class _Slow:
    def __init__(self) -> None:
        self.accepted = 0

    def invoke(self, **_: Any) -> Mapping[str, Any]:
        time.sleep(SLOW_SECONDS)
        self.accepted += 1
        return {"StatusCode": 202}


@dataclass(frozen=True)
class ShadowFigure:
    calls: int
    summaries: dict[str, Summary]
    sampled: dict[str, int]  # requests each shadowing configuration queued (warm-up included)
    accepted: dict[str, int]  # mirrors each Lambda API accepted by the end of the run

    def gap_ms(self, configuration: str) -> float:
        return (self.summaries[configuration].p50 - self.summaries["off"].p50) * 1000


@contextlib.contextmanager
def _lambda_server() -> Iterator[tuple[str, str]]:
    """A moto server process holding the function and one published version; yields its URL
    and the version."""
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
                role = moto_client("iam", endpoint).create_role(
                    RoleName="bench", AssumeRolePolicyDocument="{}"
                )["Role"]["Arn"]
                break
            except Exception:
                time.sleep(0.1)
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        lambda_ = moto_client("lambda", endpoint)
        lambda_.create_function(
            FunctionName=FUNCTION,
            Runtime="python3.12",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        version = str(lambda_.publish_version(FunctionName=FUNCTION)["Version"])
        yield endpoint, version
    finally:
        server.terminate()
        server.wait(30)


def _mirror(client: Any, state: ShadowState | None) -> ShadowMirror:
    mirror = ShadowMirror(
        lambda: client,
        lambda: state,
        function_name=FUNCTION,
        function_version="stable",
        model_name="churn",
        max_body_bytes=names.DEFAULT_MAX_BODY_BYTES,
    )
    return mirror


def measure_shadow(endpoint: str, model: BenchModel, cache_dir: Path, calls: int) -> ShadowFigure:
    with _lambda_server() as (lambda_endpoint, version):
        return _measure(endpoint, lambda_endpoint, version, model, cache_dir, calls)


def _measure(
    endpoint: str,
    lambda_endpoint: str,
    version: str,
    model: BenchModel,
    cache_dir: Path,
    calls: int,
) -> ShadowFigure:
    base = function_environment(endpoint, model, cache_dir)
    row = json.loads(load_event("predict_valid")["body"])["instances"][0]
    event = http_api_event("POST", "/predict", json.dumps({"instances": [row]}))
    state = ShadowState(
        model="churn",
        lambda_version=version,
        model_version="v2",
        sample_rate=SAMPLE_RATE,
        started_at=datetime.now(UTC),
        started_by="bench",
    )
    working = _Counting(moto_client("lambda", lambda_endpoint, config=ShadowMirror.client_config()))
    clients: dict[str, Any] = {
        "off": _Counting(None),
        "working": working,
        "failing": _Failing(),
        "slow": _Slow(),
    }
    times: dict[str, list[float]] = {name: [] for name in CONFIGURATIONS}
    sampled = dict.fromkeys(CONFIGURATIONS, 0)
    with contextlib.redirect_stdout(QUIET):
        handlers = {name: WarmHandler(base) for name in CONFIGURATIONS}
        mirrors = {}
        for name, handler in handlers.items():
            mirror = _mirror(clients[name], None if name == "off" else state)
            offer = mirror.offer

            def counted(*args: Any, _name: str = name, _offer: Any = offer) -> bool:
                taken: bool = _offer(*args)
                sampled[_name] += taken
                return taken

            mirror.offer = counted  # type: ignore[method-assign]
            handler.module.shadow = mirrors[name] = mirror
        for handler in handlers.values():  # warm, every state read and every sender started
            with patched_environ(handler.environment):
                for _ in range(WARMUP):
                    handler.call(event)
        for mirror in mirrors.values():
            mirror.flush(5)
        for _ in range(max(1, calls // BLOCK)):
            for name, handler in handlers.items():
                mirrors["working"].flush(30)  # outside the timing: its sender is idle
                with patched_environ(handler.environment):
                    times[name].extend(handler.call(event) for _ in range(BLOCK))
        for mirror in mirrors.values():
            mirror.flush(120)
    return ShadowFigure(
        calls=len(times["off"]),
        summaries={name: summarize(values) for name, values in times.items()},
        sampled=sampled,
        accepted={name: client.accepted for name, client in clients.items()},
    )


def _ms(value: float) -> str:
    return f"{value * 1000:.3f}"


def shadow_section(figure: ShadowFigure | None) -> str:
    title = "## 13. Shadow mirroring on the request path (reference model, one row)\n\n"
    if figure is None:
        return title + "Not measured in this run."
    labels = {
        "off": "no shadow running",
        "working": f"shadow at {SAMPLE_RATE:.0%}, working Lambda API (moto)",
        "failing": f"shadow at {SAMPLE_RATE:.0%}, Invoke failing every call (stub)",
        "slow": f"shadow at {SAMPLE_RATE:.0%}, Invoke answering after "
        f"{SLOW_SECONDS * 1000:.0f} ms (stub)",
    }
    rows = [
        f"| {labels[name]} | {_ms(s.p50)} | {_ms(s.p90)} | {_ms(s.p99)} | "
        f"{figure.gap_ms(name):+.3f} | "
        f"{figure.sampled[name] if name != 'off' else '-'} | "
        f"{figure.accepted[name] if name != 'off' else '-'} |"
        for name, s in figure.summaries.items()
    ]
    worst = max(figure.gap_ms(name) for name in CONFIGURATIONS if name != "off")
    status = "met" if worst <= TARGET_MS else "**missed**"
    return (
        title + f"The whole warm handler of the stable version, {figure.calls} calls per "
        f"configuration in alternating blocks of {BLOCK} (`tests/benchmarks/shadow.py`). The "
        "request thread only draws the sample and queues the request; the sender thread builds "
        "the mirror event and invokes the shadow version (InvocationType Event). Target: the "
        f"stable path's p50 within {TARGET_MS:g} ms of no shadow; worst gap {worst:+.3f} ms: "
        f"{status}. `sampled` counts the requests queued for the shadow (warm-up included), "
        "`accepted` the mirrors its Lambda API took by the end of the run (every other one is "
        "counted in ShadowSkipped).\n\n"
        "| configuration | p50 ms | p90 ms | p99 ms | p50 - no shadow, ms | sampled | accepted |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(rows)
    )


def main(argv: list[str] | None = None) -> int:
    """Section 13 alone: the reference model on a moto S3 server, printed to stdout."""
    from modelship.training.churn import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model
    from tests.benchmarks.models import moto_s3
    from tests.benchmarks.run import WORKDIR, _isolate_from_aws

    parser = argparse.ArgumentParser(description="shadow mirroring's cost, section 13 alone")
    parser.add_argument("--quick", action="store_true", help="few calls, smoke run only")
    args = parser.parse_args(argv)
    _isolate_from_aws()
    work = WORKDIR.parent / "shadow"
    directory = work / "models" / "reference"
    directory.mkdir(parents=True, exist_ok=True)
    for child in directory.iterdir():
        child.unlink()
    manifest = write_model(
        train(generate_churn(), TrainingSpec(name="churn", version="v1")), directory
    )
    model = BenchModel("reference", "reference churn model", directory, manifest)
    with moto_s3([model]) as endpoint:
        figure = measure_shadow(endpoint, model, work / "cache", 100 if args.quick else 1000)
    print(shadow_section(figure))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
