"""Fixtures of the predict, release and retraining integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from modelship.local.handler_runner import FakeLambdaContext, load_handler, patched_environ
from modelship.names import PREDICT_HANDLER
from tests.conftest import BUCKET
from tests.integration.release_world import World, open_world


@pytest.fixture
def world(reference_model_dir: Path, tmp_path: Path) -> Iterator[World]:
    """A moto world with the predict function, its `live` alias and models v1-v3."""
    with open_world(reference_model_dir, tmp_path) as opened:
        yield opened


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@pytest.fixture
def start_function(s3: Any, tmp_path: Path) -> Callable[..., Invoke]:
    """Cold-starts the predict function with the given environment; returns its invoker."""

    def start(**env: str) -> Invoke:
        environment = {
            "MODEL_BUCKET": BUCKET,
            "MODEL_NAME": "churn",
            "MODEL_VERSION": "v1",
            "MODEL_CACHE_DIR": str(tmp_path / "tmp-cache"),
            **env,
        }
        with patched_environ(environment):
            module, handler = load_handler(PREDICT_HANDLER)

        def invoke(event: dict[str, Any]) -> dict[str, Any]:
            with patched_environ(environment):
                return handler(event, FakeLambdaContext())  # type: ignore[no-any-return]

        invoke.module = module  # type: ignore[attr-defined]
        return invoke

    return start


@pytest.fixture
def function(published: Any, start_function: Callable[..., Invoke]) -> Invoke:
    return start_function(MODEL_SHA256=published.artifact.sha256)
