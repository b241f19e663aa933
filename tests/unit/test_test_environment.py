"""The suite's conftest sets a fake AWS environment and gives the caller's back afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_RUN_PYTEST_IN_PROCESS = """
import json, os, sys
import pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", "tests/unit/registry/test_versions.py"])
keys = ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL", "POWERTOOLS_SERVICE_NAME")
print(json.dumps({"code": int(code), "env": {k: os.environ.get(k) for k in keys}}))
"""


def test_the_callers_environment_is_restored_after_an_in_process_run() -> None:
    # Given a developer shell with a real profile and an endpoint configured
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update({"AWS_PROFILE": "prod-admin", "AWS_ENDPOINT_URL": "http://localhost:1"})
    # When pytest runs in that process
    result = subprocess.run(
        [sys.executable, "-c", _RUN_PYTEST_IN_PROCESS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Then the tests ran, and the process has its own environment back
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["code"] == 0, result.stdout[-2000:]
    assert outcome["env"] == {
        "AWS_PROFILE": "prod-admin",
        "AWS_ACCESS_KEY_ID": None,
        "AWS_ENDPOINT_URL": "http://localhost:1",
        "POWERTOOLS_SERVICE_NAME": None,
    }
