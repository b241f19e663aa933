"""The emulator's worker lets a handler import only what the Lambda layer ships (and its own
code): pandas there must not find pyarrow, as in Lambda, where the layer has none."""

from __future__ import annotations

import os
from pathlib import Path

from modelship.local.executor import FunctionVersion, Worker

HANDLER = """
import importlib

def handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            importlib.import_module(name)
            found[name] = True
        except ImportError:
            found[name] = False
    return found
"""


def _worker(tmp_path: Path) -> Worker:
    code = tmp_path / "code"
    code.mkdir()
    (code / "probe.py").write_text(HANDLER)
    (code / "own_module.py").write_text("VALUE = 1\n")
    function = FunctionVersion(
        name="probe",
        arn="arn:aws:lambda:us-east-1:123456789012:function:probe",
        version="1",
        handler="probe.handler",
        environment={},
        timeout_seconds=30,
        memory_mb=512,
    )
    return Worker(function, code, tmp_path / "worker", {"PATH": os.environ.get("PATH", "")})


def test_a_library_outside_the_layer_is_not_importable_in_a_worker(tmp_path: Path) -> None:
    # Given a worker running a handler (pyarrow and pytest are installed here, not in the layer)
    worker = _worker(tmp_path)
    try:
        # When the handler imports layer libraries, its own module and libraries outside
        answer = worker.invoke(
            {"modules": ["numpy", "json", "own_module", "pyarrow", "pytest"]}, 60
        )
    finally:
        worker.stop()
    # Then only the layer's, the standard library's and its own code import
    assert answer.get("result") == {
        "numpy": True,
        "json": True,
        "own_module": True,
        "pyarrow": False,
        "pytest": False,
    }, answer
