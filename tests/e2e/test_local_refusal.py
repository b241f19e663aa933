"""`modelship local up` refuses a template AWS would refuse, naming every finding."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import free_port

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "modelship"]


def test_up_refuses_a_template_aws_would_refuse(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    cdk_out.mkdir()
    function = {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "Runtime": "python3.12",
            "Handler": "app.handler",
            "Role": "arn:aws:iam::123456789012:role/r",
            "Code": {"S3Bucket": "assets", "S3Key": "code.zip"},
            "Timeout": 3600,
            "MemorySize": 64,
        },
    }
    template = {"Resources": {"Fn": function}}
    (cdk_out / "stack.template.json").write_text(json.dumps(template))

    done = subprocess.run(
        [
            *CLI,
            "local",
            "up",
            "--state-dir",
            str(tmp_path / "state"),
            "--cdk-out",
            str(cdk_out),
            "--port",
            str(free_port()),
            "--aws-port",
            str(free_port()),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "Fn: Timeout = 3600: the timeout (s) must be 1-900" in done.stderr
    assert "Fn: MemorySize = 64: memory (MB) must be 128-10240" in done.stderr
