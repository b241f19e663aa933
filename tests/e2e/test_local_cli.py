"""`modelship local up --detach`, `status` and `down` as a newcomer runs them: the emulator
starts with the reference model on `live`, answers POST /predict, and stops for good."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelship.api_client import call
from modelship.local.background import alive
from modelship.sample_events import load_event
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "modelship"]


def modelship(*argv: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run(
        [*CLI, *argv, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_up_serves_the_reference_model_until_down(cdk_out: Path, tmp_path: Path) -> None:
    state_dir = str(tmp_path / "state")
    port = free_port()
    up = modelship(
        "local",
        "up",
        "--detach",
        "--state-dir",
        state_dir,
        "--cdk-out",
        str(cdk_out),
        "--port",
        str(port),
        "--aws-port",
        str(free_port()),
    )
    pid = up["pid"]
    try:
        assert up["endpoints"]["api_url"] == f"http://127.0.0.1:{port}"
        assert up["endpoints"]["environment"]["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        body = str(load_event("predict_valid")["body"]).encode()
        answer = call(up["endpoints"]["api_url"], "POST", "/predict", body)
        assert answer.status == 200, answer.body
        assert answer.json()["model_version"] == "v0"
        assert call(up["endpoints"]["api_url"], "GET", "/health", token="x").status == 403
        assert modelship("local", "status", "--state-dir", state_dir)["running"] is True
        # The seeded version went through the registry like any other: it has its card.
        card = modelship("models", "card", "churn", "v0", env=up["endpoints"]["environment"])
        assert card["stored"] is True
        assert card["card"].startswith("# Model card: churn v0\n")
    finally:
        down = modelship("local", "down", "--state-dir", state_dir)

    assert down == {"stopped": True, "pid": pid}
    assert not alive(pid)
    assert modelship("local", "status", "--state-dir", state_dir) == {"running": False}
