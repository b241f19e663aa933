"""The CDK app synthesized once per distinct context in a test process, shared by every tier.

A synthesis (with cdk-nag) costs seconds of CPU; the infra tests, the integration worlds built
from the template and the e2e emulator all read the same default app, so each distinct
context is synthesized once per process (per pytest-xdist worker under `make test`) into a
directory removed at exit. Callers only read what is synthesized: copy a cdk.out to change it.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before the first aws_cdk import starts the jsii runtime (Makefile exports the same).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra_cdk.modelship_stack import ModelshipStack


@dataclass(frozen=True)
class Synthesized:
    """An app synthesized into `out`: the parent template and each other model's nested one."""

    stack: ModelshipStack
    out: Path
    seconds: float

    @property
    def template_path(self) -> Path:
        return self.out / self.stack.template_file

    def parent(self) -> dict[str, Any]:
        return _load(self.template_path)

    def nested(self, model: str) -> dict[str, Any]:
        return _load(self.out / self.stack.model_stacks[model].template_file)

    def templates(self) -> Any:
        yield self.stack.deployment.default.name, self.parent()
        for model in self.stack.model_stacks:
            yield model, self.nested(model)


def _load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


_synthesized: dict[str, Synthesized] = {}
_work: list[Path] = []


def _work_dir() -> Path:
    if not _work:
        work = Path(tempfile.mkdtemp(prefix="modelship-synth-"))
        atexit.register(shutil.rmtree, work, ignore_errors=True)
        layer = work / "stub-layer"
        # The real layer is a 66 MiB zip from a pip build; synth only needs a directory to
        # hash, and the emulator runs functions on the local virtualenv.
        (layer / "python").mkdir(parents=True)
        (layer / "python" / "placeholder.txt").write_text("stub layer for tests\n")
        _work.append(work)
    return _work[0]


def stub_layer() -> Path:
    return _work_dir() / "stub-layer"


def synthesized(**context: Any) -> Synthesized:
    """The app synthesized with `context` over the code's defaults (not cdk.json's: as `App`
    without the CLI), once per process; a synthesis that fails (cdk-nag, a settings error)
    raises each time it is asked for."""
    key = json.dumps(context, sort_keys=True, default=str)
    if key not in _synthesized:
        from aws_cdk import App

        from infra_cdk.app import build_app

        out = Path(tempfile.mkdtemp(prefix="cdk.out-", dir=_work_dir()))
        started = time.perf_counter()
        app = App(outdir=str(out), context=context)
        stack = build_app(app, layer_asset=stub_layer())
        app.synth()
        _synthesized[key] = Synthesized(stack, out, time.perf_counter() - started)
    return _synthesized[key]
