"""The local emulator's Lambda service: worker processes per published function version.

moto stores functions, versions and aliases but, without Docker, answers `invoke` with a
canned payload. While `LambdaExecutor.serve_moto` is active (modelship.local.lambda_invoke),
every invocation moto receives (the AWS CLI, boto3, a Step Functions task) runs the function's
real handler in a worker process (modelship/local/worker.py) started with that version's
environment, its own `/tmp` (TMPDIR and MODEL_CACHE_DIR point into a per-worker directory)
and the function's code directory. A worker is cold the first time and warm after; a version
gets more workers while all of its workers are busy, up to `max_workers_per_version`.
Invoking an alias picks the version by the alias's weights, as Lambda does.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import random
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship import names
from modelship.layer_runtime import LAYER_MODULES
from modelship.local.handler_runner import REPO_ROOT
from modelship.local.lambda_invoke import Answer, answered_by

WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
# Set for every function: no X-Ray daemon here.
_RUNTIME_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}


class WorkerCrashed(Exception):
    """A worker process exited or timed out during an invocation. `error_type` is what Lambda
    names it: Runtime.ExitError for a runtime that exited, Sandbox.Timedout for a timeout."""

    def __init__(self, message: str, error_type: str = "Runtime.ExitError") -> None:
        super().__init__(message)
        self.error_type = error_type


@dataclass(frozen=True)
class FunctionVersion:
    """What a worker runs: one published version (or $LATEST) of a function."""

    name: str
    arn: str
    version: str
    handler: str
    environment: Mapping[str, str]
    timeout_seconds: float
    memory_mb: int
    # The execution role: the worker's AWS calls are authorized as it (IAM enforcement).
    role: str = ""

    @classmethod
    def from_moto(cls, function: Any) -> FunctionVersion:
        return cls(
            name=function.function_name,
            arn=function.function_arn,
            version=str(function.version),
            handler=function.handler,
            environment=dict(function.environment_vars or {}),
            timeout_seconds=float(function.timeout or 3),
            memory_mb=int(function.memory_size or 128),
            role=str(getattr(function, "role", "") or ""),
        )

    def key(self) -> str:
        settings = json.dumps([self.arn, self.version, self.handler, dict(self.environment)])
        return hashlib.sha256(settings.encode()).hexdigest()[:16]


@dataclass
class InvocationResult:
    function: FunctionVersion
    payload: Any
    error: dict[str, Any] | None
    cold: bool
    duration_ms: float
    metrics: list[dict[str, Any]]
    # The alias the caller invoked ("live"), if any: Lambda's Resource dimension.
    alias: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    def payload_bytes(self) -> bytes:
        return json.dumps(self.error if self.error is not None else self.payload).encode()


class Worker:
    """One execution environment: a process running one function version's handler."""

    def __init__(
        self,
        function: FunctionVersion,
        code_root: Path,
        directory: Path,
        env: Any,
        iam_env: Mapping[str, str] | None = None,
    ):
        self.function = function
        self.directory = directory
        tmp = directory / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        environment = {
            **env,
            **_RUNTIME_ENV,
            **function.environment,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": function.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "LOCAL_LAMBDA_FUNCTION_ARN": function.arn,
            names.ENV_LAMBDA_TASK_ROOT: str(code_root),
            "TMPDIR": str(tmp),
            names.ENV_MODEL_CACHE_DIR: str(tmp / "modelship-cache"),
        }
        if iam_env:
            environment.update({**iam_env, "MODELSHIP_IAM_ROLE": function.role})
        self._log = (directory / "worker.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(WORKER_SCRIPT),
                str(code_root),
                function.handler,
                ",".join(sorted(LAYER_MODULES)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=environment,
            cwd=directory,
            text=True,
        )
        self.last_used = time.monotonic()

    def invoke(self, event: Any, timeout_seconds: float) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        request = {"event": event, "timeout": timeout_seconds, "request_id": str(uuid.uuid4())}
        try:
            stdin.write(json.dumps(request) + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            self.stop()
            raise WorkerCrashed(_exited(self.process.returncode)) from exc
        # The first invocation includes the cold start, which Lambda bills to init (10 s max).
        ready, _, _ = select.select([stdout], [], [], timeout_seconds + 10)
        line = stdout.readline() if ready else ""
        self.last_used = time.monotonic()
        if not line:
            self.stop()
            if not ready:
                raise WorkerCrashed(
                    f"Task timed out after {timeout_seconds:.2f} seconds", "Sandbox.Timedout"
                )
            raise WorkerCrashed(_exited(self.process.returncode))
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@dataclass
class _Pool:
    idle: list[Worker] = field(default_factory=list)
    busy: int = 0


@dataclass
class LambdaExecutor:
    """Runs function versions in worker processes; see the module docstring."""

    work_dir: Path
    # Environment every worker gets (endpoint, fake credentials, region, PATH).
    base_env: Mapping[str, str]
    # Function name -> directory with its code; REPO_ROOT for functions not from a template.
    code_roots: dict[str, Path] = field(default_factory=dict)
    max_workers_per_version: int = 4
    idle_seconds: float = 600.0
    on_result: Callable[[InvocationResult], None] | None = None
    # Set with IAM enforcement on: the guard script and the authorization endpoint workers use.
    iam_env: Mapping[str, str] | None = None
    _pools: dict[str, _Pool] = field(default_factory=dict)
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _serial: Iterator[int] = field(default_factory=itertools.count)
    _stopped: bool = False

    def invoke(
        self, function: FunctionVersion, event: Any, alias: str | None = None
    ) -> InvocationResult:
        worker = self._acquire(function)
        started = time.monotonic()
        try:
            answer = worker.invoke(event, function.timeout_seconds)
        except WorkerCrashed as exc:
            # An error like any function error: the caller sees it, Lambda counts it in
            # Errors, and the worker is replaced (see _release).
            answer = {"error": {"errorType": exc.error_type, "errorMessage": str(exc)}}
        finally:
            self._release(function, worker)
        result = InvocationResult(
            function=function,
            payload=answer.get("result"),
            error=answer.get("error"),
            cold=bool(answer.get("cold", True)),
            duration_ms=float(answer.get("duration_ms", (time.monotonic() - started) * 1000)),
            metrics=list(answer.get("metrics", [])),
            alias=alias,
        )
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _acquire(self, function: FunctionVersion) -> Worker:
        key = function.key()
        with self._lock:
            pool = self._pools.setdefault(key, _Pool())
            while not pool.idle and pool.busy >= self.max_workers_per_version:
                self._lock.wait()
            pool.busy += 1
            if pool.idle:
                return pool.idle.pop()
            number = next(self._serial)
        directory = self.work_dir / "workers" / f"{function.name}-{function.version}-{number}"
        directory.mkdir(parents=True, exist_ok=True)
        code_root = self.code_roots.get(function.name, REPO_ROOT)
        try:
            return Worker(function, code_root, directory, self.base_env, self.iam_env)
        except OSError:
            with self._lock:
                pool.busy -= 1
                self._lock.notify_all()
            raise

    def _release(self, function: FunctionVersion, worker: Worker) -> None:
        with self._lock:
            pool = self._pools[function.key()]
            pool.busy -= 1
            if worker.process.poll() is None and not self._stopped:
                pool.idle.append(worker)
            else:
                worker.stop()
            self._lock.notify_all()

    def reap_idle(self) -> int:
        """Stops workers idle for longer than `idle_seconds` (Lambda recycles them too)."""
        now = time.monotonic()
        stale: list[Worker] = []
        with self._lock:
            for pool in self._pools.values():
                keep = [w for w in pool.idle if now - w.last_used < self.idle_seconds]
                stale += [w for w in pool.idle if w not in keep]
                pool.idle = keep
        for worker in stale:
            worker.stop()
        return len(stale)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            workers = [w for pool in self._pools.values() for w in pool.idle]
            for pool in self._pools.values():
                pool.idle = []
        for worker in workers:
            worker.stop()

    # ---- moto integration

    def invoke_moto(
        self, backend: Any, function_name: str, qualifier: str | None, event: Any
    ) -> InvocationResult:
        """Resolves name/ARN and qualifier in moto's Lambda backend (an alias by its weights)
        and invokes the version it names."""
        name, qualifier = _split_qualifier(function_name, qualifier)
        alias = None
        if qualifier and not qualifier.isdigit() and qualifier != "$LATEST":
            alias = qualifier
            found = backend.get_alias(qualifier, name)
            qualifier = pick_version(found.function_version, _weights(found.routing_config))
        function = backend.get_function(name, qualifier)
        return self.invoke(FunctionVersion.from_moto(function), event, alias)

    def serve_moto(self) -> contextlib.AbstractContextManager[None]:
        """While active, moto's Lambda `invoke` runs the real handlers through this executor."""
        return answered_by(self._answer_moto, background_events=True)

    def _answer_moto(
        self, backend: Any, function_name: str, qualifier: str | None, event: Any
    ) -> Answer:
        result = self.invoke_moto(backend, function_name, qualifier, event)
        return Answer(result.payload_bytes(), result.failed, result.function.version)


def _exited(status: int | None) -> str:
    """Lambda's message for a runtime that exited during an invocation."""
    return f"Runtime exited with error: exit status {status}"


def _split_qualifier(function_name: str, qualifier: str | None) -> tuple[str, str | None]:
    """ "name", "name:qualifier" or an ARN with or without qualifier."""
    if function_name.startswith("arn:"):
        parts = function_name.split(":")
        return parts[6], (parts[7] if len(parts) > 7 else qualifier)
    name, _, in_name = function_name.partition(":")
    return name, in_name or qualifier


def _weights(routing_config: Any) -> dict[str, float]:
    if not routing_config:
        return {}
    weights = routing_config.get("AdditionalVersionWeights") or {}
    return {str(version): float(weight) for version, weight in weights.items()}


def pick_version(
    stable: str, weights: Mapping[str, float], draw: Callable[[], float] = random.random
) -> str:
    """The version one request goes to: each additional version by its weight, else stable."""
    point = draw()
    for version, weight in weights.items():
        if point < weight:
            return version
        point -= weight
    return stable
