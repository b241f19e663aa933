"""Fixtures of the release and retraining integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.release_world import World, open_world


@pytest.fixture
def world(reference_model_dir: Path, tmp_path: Path) -> Iterator[World]:
    """A moto world with the predict function, its `live` alias and models v1-v3."""
    with open_world(reference_model_dir, tmp_path) as opened:
        yield opened
