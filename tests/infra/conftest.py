"""Synthesize the predict stack once per context variant; tests only read the templates."""

from __future__ import annotations

import json
import os

# Before the first aws_cdk import starts the jsii runtime (Makefile exports the same).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from aws_cdk.assertions import Template

from infra_cdk.app import build_app
from tests.infra.template_queries import Synth


@pytest.fixture(scope="session")
def stub_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The real layer is a 66 MiB zip from a pip build; synth only needs a directory to hash.
    layer = tmp_path_factory.mktemp("layer")
    (layer / "python").mkdir()
    (layer / "python" / "placeholder.txt").write_text("stub layer for template tests\n")
    return layer


@pytest.fixture(scope="session")
def synth(stub_layer: Path, tmp_path_factory: pytest.TempPathFactory) -> Synth:
    # Tests only read templates: one synthesis per distinct context serves the whole session
    # (a synthesis takes seconds, and most modules ask for the default one).
    synthesized: dict[str, Template] = {}

    def _synth(**context: Any) -> Template:
        key = json.dumps(context, sort_keys=True, default=str)
        if key not in synthesized:
            app = App(outdir=str(tmp_path_factory.mktemp("cdk.out")), context=context)
            stack = build_app(app, layer_asset=stub_layer)
            synthesized[key] = Template.from_stack(stack)
        return synthesized[key]

    return _synth


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth()
