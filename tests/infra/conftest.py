"""Synthesize the app once per context variant (tests/synthesis.py); tests only read the
templates."""

from __future__ import annotations

import os

# Before the first aws_cdk import starts the jsii runtime (Makefile exports the same).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests import synthesis
from tests.infra.template_queries import Synth


@pytest.fixture(scope="session")
def stub_layer() -> Path:
    # The real layer is a 66 MiB zip from a pip build; synth only needs a directory to hash.
    return synthesis.stub_layer()


@pytest.fixture(scope="session")
def synth() -> Synth:
    # Tests only read templates: one synthesis per distinct context serves the whole process,
    # every tier (tests/synthesis.py; a synthesis takes seconds, most modules ask for the
    # default one).
    def _synth(**context: Any) -> Template:
        return Template.from_json(synthesis.synthesized(**context).parent())

    return _synth


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth()
