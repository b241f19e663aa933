"""Small queries over synthesized templates shared by the infra tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_cdk import App
from aws_cdk.assertions import Template

from infra_cdk.app import build_app
from infra_cdk.modelship_stack import ModelshipStack

Synth = Callable[..., Template]


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {list(resources)}"
    return next(iter(resources.items()))


def logical_id(template: Template, resource_type: str) -> str:
    return only(template, resource_type)[0]


def logical_id_starting(template: Template, resource_type: str, prefix: str) -> str:
    matches = [name for name in template.find_resources(resource_type) if name.startswith(prefix)]
    assert len(matches) == 1, f"expected one {resource_type} named {prefix}*, found {matches}"
    return matches[0]


@dataclass(frozen=True)
class Synthesized:
    """An app synthesized into `out`: the parent template and each other model's nested one."""

    stack: ModelshipStack
    out: Path
    seconds: float

    def parent(self) -> dict[str, Any]:
        return _load(self.out / self.stack.template_file)

    def nested(self, model: str) -> dict[str, Any]:
        return _load(self.out / self.stack.model_stacks[model].template_file)

    def templates(self) -> Iterator[tuple[str, dict[str, Any]]]:
        yield self.stack.deployment.default.name, self.parent()
        for model in self.stack.model_stacks:
            yield model, self.nested(model)


def _load(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def synthesize(stub_layer: Path, out: Path, **context: Any) -> Synthesized:
    """Builds and synthesizes the app; cdk-nag runs in app.synth() and fails it on a finding."""
    started = time.perf_counter()
    app = App(outdir=str(out), context=context)
    stack = build_app(app, layer_asset=stub_layer)
    app.synth()
    return Synthesized(stack, out, time.perf_counter() - started)
