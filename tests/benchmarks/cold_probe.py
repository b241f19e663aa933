"""One cold start, run as a fresh process by cold_start.py: `python cold_probe.py CONFIG`.

Marks are CLOCK_MONOTONIC readings (time.monotonic), which Linux shares between processes,
so the parent can measure from the moment it spawned this one. Only the standard library is
imported before the timed imports.
"""

import time

STARTED = time.monotonic()

import importlib  # noqa: E402 - after the first mark on purpose
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402


def import_all(modules: list[str]) -> None:
    """Imports the modules in the given order (a floor: the serving process's own order)."""
    for name in modules:
        importlib.import_module(name)


def install_eager_tracer() -> None:
    """The handler as it was before the tracer became lazy: `tracer = Tracer()` at init (the
    X-Ray SDK imported, every library it supports patched) and its capture_lambda_handler."""
    from aws_lambda_powertools import Tracer

    from modelship.serving import tracing

    class EagerTracer:
        def __init__(self, service: str) -> None:
            self._tracer = Tracer()

        def capture_lambda_handler(self, handler: Any) -> Any:
            return self._tracer.capture_lambda_handler(handler)

    tracing.LazyTracer = EagerTracer  # type: ignore[assignment,misc]


def trace_header(sampled: bool) -> str:
    """A new trace header, as Lambda sets one in the environment for each invocation."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled={int(sampled)}"


def run_handler(config: dict[str, Any], marks: dict[str, float], result: dict[str, Any]) -> None:
    from modelship.local.handler_runner import FakeLambdaContext, load_handler
    from modelship.serving import model_store

    if config.get("tracer") == "eager":
        install_eager_tracer()

    load_seconds: list[float] = []
    original = model_store.ModelStore._load

    def timed_load(self: Any, manifest: Any, path: Any, code_dir: Any = None) -> Any:
        started = time.monotonic()
        try:
            return original(self, manifest, path, code_dir)
        finally:
            load_seconds.append(time.monotonic() - started)

    model_store.ModelStore._load = timed_load  # type: ignore[method-assign]
    module, handler = load_handler(config["handler"])
    marks["init"] = time.monotonic()
    loaded = module.service.model()
    result["source"] = loaded.source
    result["fetch_load_seconds"] = loaded.seconds
    result["load_seconds"] = sum(load_seconds)
    for i in range(1 + config["extra_predictions"]):
        if config.get("tracer"):
            os.environ["_X_AMZN_TRACE_ID"] = trace_header(config["trace_sampled"])
        response = handler(config["event"], FakeLambdaContext())
        if response["statusCode"] != 200:
            raise RuntimeError(f"predict answered {response['statusCode']}: {response['body']}")
        if i == 0:
            marks["first_response"] = time.monotonic()
    result["modules"] = [name for name in sys.modules if not name.startswith("_modelship_")]


def run_naive(config: dict[str, Any], marks: dict[str, float], result: dict[str, Any]) -> None:
    """The common pattern: download to a temporary directory, joblib.load, delete."""
    import tempfile

    import boto3
    import joblib
    import numpy as np

    s3 = boto3.client("s3")
    client_ready = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "model.joblib")
        s3.download_file(config["bucket"], config["key"], path)
        fetched = time.monotonic()
        model = joblib.load(path)
    marks["init"] = time.monotonic()
    result["fetch_load_seconds"] = marks["init"] - client_ready
    result["load_seconds"] = marks["init"] - fetched
    rows = json.loads(config["event"]["body"])["instances"]
    for i in range(1 + config["extra_predictions"]):
        matrix = np.array(
            [[row[name] for name in config["features"]] for row in rows], dtype=object
        )
        proba = model.predict_proba(matrix)
        json.dumps({"predictions": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()})
        if i == 0:
            marks["first_response"] = time.monotonic()


def peak_rss_kb() -> int:
    """VmHWM: this process's own peak. ru_maxrss would report the parent's peak when that
    was higher, because Linux carries it over fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    config = json.loads(sys.argv[1])
    marks = {"start": STARTED}
    result: dict[str, Any] = {}
    import_all(config["modules"])
    marks["imports"] = time.monotonic()
    if config["mode"] == "handler":
        sys.path.insert(0, config["repo_root"])
        run_handler(config, marks, result)
    elif config["mode"] == "naive":
        run_naive(config, marks, result)
    elif config.get("check_tracer"):
        # The handler builds a Tracer (on its first sampled invocation); with a trimmed
        # botocore that can fail.
        try:
            from aws_lambda_powertools import Tracer

            Tracer()
        except Exception as exc:
            result["tracer_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    result["marks"] = marks
    result["maxrss_kb"] = peak_rss_kb()
    with open(config["result_file"], "w") as out:
        json.dump(result, out)
    sys.stdout.flush()
    # Interpreter teardown is not part of a cold start.
    os._exit(0)


if __name__ == "__main__":
    main()
