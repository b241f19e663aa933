"""Runs moto's Lambda invocations with the real handler code, in this process.

moto without Docker answers `invoke` with a canned payload. While `InProcessLambda` is active
(modelship.local.lambda_invoke), anything that invokes a function through moto (boto3, a Step
Functions Task executed by moto) runs the function's handler from the repository with that
version's environment. Like a warm Lambda container, a loaded handler is reused per function
version and environment.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import (
    REPO_ROOT,
    FakeLambdaContext,
    load_handler,
    patched_environ,
)
from modelship.local.iam.enforcement import acting_as, as_operator
from modelship.local.lambda_invoke import Answer, answered_by

# Set for every handler: no X-Ray daemon here.
_BASE_ENV = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false"}


class _PerThreadStdout(io.TextIOBase):
    """sys.stdout that sends a thread's writes to that thread's capture buffer, if it has one.

    moto runs Step Functions executions in background threads; swapping sys.stdout for one
    handler (contextlib.redirect_stdout) would swallow what the main thread prints meanwhile.
    """

    def __init__(self, fallback: Any) -> None:
        self.fallback = fallback
        self.local = threading.local()

    def write(self, text: str) -> int:
        target = getattr(self.local, "buffer", None) or self.fallback
        return int(target.write(text))

    def flush(self) -> None:
        target = getattr(self.local, "buffer", None) or self.fallback
        target.flush()


@contextlib.contextmanager
def _captured_stdout(proxy: _PerThreadStdout | None) -> Iterator[None]:
    if proxy is None:
        yield
        return
    proxy.local.buffer = io.StringIO()
    try:
        yield
    finally:
        proxy.local.buffer = None


@dataclass
class Invocation:
    function_name: str
    version: str
    event: Any
    result: Any = None
    error: str | None = None


@dataclass
class InProcessLambda:
    """Patch moto's Lambda backend while active (use as a context manager)."""

    code_root: Path = REPO_ROOT
    # Called before every invocation with (function name, version, event): e.g. evaluate alarms.
    before_invoke: Callable[[str, str, Any], None] | None = None
    invocations: list[Invocation] = field(default_factory=list)
    _handlers: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _serving: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _stdout: _PerThreadStdout | None = None
    _saved_stdout: Any = None

    def __enter__(self) -> InProcessLambda:
        self._serving.enter_context(answered_by(self._answer))
        self._saved_stdout = sys.stdout
        self._stdout = _PerThreadStdout(sys.stdout)
        sys.stdout = self._stdout
        return self

    def __exit__(self, *exc: object) -> None:
        self._serving.close()
        if self._stdout is not None and sys.stdout is self._stdout:
            sys.stdout = self._saved_stdout
        self._stdout = None

    def _answer(
        self, backend: Any, function_name: str, qualifier: str | None, event: Any
    ) -> Answer:
        function = backend.get_function(function_name, qualifier)
        version = str(function.version)
        env = {
            **_BASE_ENV,
            **dict(function.environment_vars or {}),
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": version,
        }
        if self.before_invoke is not None:
            # Test code: an operator's calls, even inside a state machine's task.
            with as_operator():
                self.before_invoke(function.function_name, version, event)
        call = Invocation(function.function_name, version, event)
        self.invocations.append(call)
        context = FakeLambdaContext(
            function_name=function.function_name,
            function_version=version,
            timeout_seconds=float(function.timeout or 30),
        )
        # With IAM enforcement on, the handler's AWS calls are its role's (modelship.local.iam).
        role = getattr(function, "role", None)
        with (
            patched_environ(env),
            _captured_stdout(self._stdout),
            acting_as(role, function.function_name),
        ):
            try:
                handler = self._handler(function, env)
                call.result = handler(event, context)
                payload = json.dumps(call.result, default=str)
            except Exception as exc:  # a Lambda function error, reported like Lambda does
                call.error = type(exc).__name__
                payload = json.dumps(
                    {
                        "errorType": type(exc).__name__,
                        "errorMessage": str(exc),
                        "stackTrace": traceback.format_tb(exc.__traceback__)[-3:],
                    }
                )
        return Answer(payload.encode(), failed=call.error is not None)

    def _handler(self, function: Any, env: dict[str, str]) -> Any:
        digest = hashlib.sha256(json.dumps(env, sort_keys=True).encode()).hexdigest()
        key = (function.function_arn, str(function.version), digest)
        if key not in self._handlers:
            _, handler = load_handler(function.handler, self.code_root)
            self._handlers[key] = handler
        return self._handlers[key]

    def errors(self) -> list[Invocation]:
        return [i for i in self.invocations if i.error is not None]
