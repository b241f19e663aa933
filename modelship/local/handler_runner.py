"""Runs a Lambda handler in this process, like `sam local invoke` but without Docker.

The handler is named the way Lambda names it (`functions.predict.app.lambda_handler`) and
loaded from a code root; each load gets a fresh module, so its init code (settings,
clients, model load) runs again under the environment given.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_counter = itertools.count()


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    function_name: str = "modelship-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/modelship-local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def load_handler(handler: str, code_root: Path = REPO_ROOT) -> tuple[ModuleType, Any]:
    """Imports the handler's module afresh from `code_root` and returns (module, function)."""
    module_path, _, function_name = handler.rpartition(".")
    if not module_path or not function_name:
        raise ValueError(f"handler {handler!r} is not of the form module.function")
    file = code_root / (module_path.replace(".", "/") + ".py")
    if not file.is_file():
        raise FileNotFoundError(f"handler module {module_path} not found under {code_root}")
    unique = f"_modelship_handler_{next(_counter)}_{module_path.replace('.', '_')}"
    spec = importlib.util.spec_from_file_location(unique, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file}")
    module = importlib.util.module_from_spec(spec)
    if str(code_root) not in sys.path:
        sys.path.insert(0, str(code_root))
    sys.modules[unique] = module
    spec.loader.exec_module(module)
    return module, getattr(module, function_name)
