"""One Lambda execution environment of the local emulator: a process that runs one function
version's handler, like a Lambda container.

Run as a script (`python worker.py CODE_ROOT HANDLER`), not imported: it uses the standard
library only, so the function's own code, including its copy of `modelship` from the asset
directory, is what the handler imports. The process environment is the version's
environment, set by the executor. Requests arrive as one JSON line each on stdin; answers
leave as one JSON line each on the original stdout. While the handler runs, everything it
prints goes through `_Stdout`: EMF documents (JSON with "_aws") are returned with the answer,
so the executor can turn them into CloudWatch metrics; other lines go to stderr (the log).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
import time
import traceback
import uuid
from typing import Any


class _Stdout(io.TextIOBase):
    def __init__(self, log: Any) -> None:
        self._log = log
        self._partial = ""
        self.metrics: list[dict[str, Any]] = []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self._line(line)
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        self._log.flush()

    def _line(self, line: str) -> None:
        if line.startswith("{") and '"_aws"' in line:
            try:
                document = json.loads(line)
            except ValueError:
                document = None
            if isinstance(document, dict) and "_aws" in document:
                self.metrics.append(document)
        self._log.write(line + "\n")


class _Context:
    """The attributes handlers and Powertools read from Lambda's context object."""

    def __init__(self, request_id: str, timeout_seconds: float) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"
        self.invoked_function_arn = os.environ.get("LOCAL_LAMBDA_FUNCTION_ARN", "")
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__)[-5:],
    }


def _install_iam_guard() -> None:
    """With IAM enforcement on, the emulator names its guard script (never part of the
    function's code): load it by path so the function's own `modelship` stays untouched."""
    guard = os.environ.get("MODELSHIP_IAM_GUARD")
    if not guard:
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("_modelship_iam_guard", guard)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.install()


class _LayerOnly:
    """Site-packages stand in for the function's layer: a top-level module found there that
    the layer does not ship is not importable, as in Lambda. Matters beyond missing imports:
    pandas stores text in pyarrow when pyarrow can be imported, in Python objects otherwise
    (the layer has no pyarrow)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        import sysconfig

        self.allowed = allowed
        self.site = tuple(
            os.path.abspath(sysconfig.get_paths()[key]) + os.sep for key in ("purelib", "platlib")
        )

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if path is not None or name in self.allowed or name in sys.builtin_module_names:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, sys.path)
        origin = (spec.origin or "") if spec else ""
        locations = list(spec.submodule_search_locations or []) if spec else []
        if any(os.path.abspath(p).startswith(self.site) for p in [origin, *locations] if p):
            raise ModuleNotFoundError(f"No module named {name!r} (not in the layer)", name=name)
        return None


def _install_layer_guard(allowed: str) -> None:
    if allowed:
        sys.meta_path.insert(0, _LayerOnly(frozenset(allowed.split(","))))


def main() -> None:
    code_root, handler_name = sys.argv[1], sys.argv[2]
    # Python put this script's directory first on the path; the function sees only its code.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    # Answers go to a private copy of stdout; fd 1 itself becomes the log.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stdout = _Stdout(sys.stderr)
    sys.stdout = stdout
    sys.path.insert(0, code_root)
    _install_iam_guard()
    _install_layer_guard(sys.argv[3] if len(sys.argv) > 3 else "")
    module_name, _, function_name = handler_name.rpartition(".")
    handler: Any = None
    for line in sys.stdin:
        request = json.loads(line)
        stdout.metrics = []
        started = time.monotonic()
        cold = handler is None
        answer: dict[str, Any] = {"cold": cold}
        try:
            if handler is None:
                # Like Lambda's init phase: a failure fails this invocation, the next retries.
                handler = getattr(importlib.import_module(module_name), function_name)
            context = _Context(request.get("request_id") or str(uuid.uuid4()), request["timeout"])
            answer["result"] = handler(request["event"], context)
        except Exception as exc:  # reported like Lambda reports an unhandled function error
            answer["error"] = _error(exc)
        stdout.flush()
        answer["duration_ms"] = (time.monotonic() - started) * 1000
        answer["metrics"] = stdout.metrics
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
