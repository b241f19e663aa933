"""The emulator as a background process: started by `modelship local up --detach`, the demo
and the e2e tests, found again through its state file, stopped by `modelship local down`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelship.local.emulator import EmulatorConfig

# Written by the running emulator once it is ready; holds its pid and endpoints.
STATE_FILE = "emulator.json"
START_TIMEOUT_SECONDS = 180.0


class EmulatorStartFailed(Exception):
    """The background emulator exited or did not become ready."""


def state_file(state_dir: Path) -> Path:
    return state_dir / STATE_FILE


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The running emulator's state (pid, endpoints), or None when none is running."""
    path = state_file(state_dir)
    if not path.exists():
        return None
    state: dict[str, Any] = json.loads(path.read_text())
    if not alive(int(state["pid"])):
        return None
    return state


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) is not running.
    stat = Path(f"/proc/{pid}/stat")
    try:
        return not stat.read_text().split(") ", 1)[-1].startswith("Z")
    except OSError:
        return True


def up_command(config: EmulatorConfig) -> list[str]:
    """The foreground `modelship local up` that runs this configuration."""
    return [
        sys.executable,
        "-m",
        "modelship",
        "local",
        "up",
        "--state-dir",
        str(config.state_dir),
        "--cdk-out",
        str(config.cdk_out),
        "--port",
        str(config.api_port),
        "--aws-port",
        str(config.aws_port),
        "--time-scale",
        str(config.time_scale),
        "--workers",
        str(config.max_workers_per_version),
        *([] if config.seed_model else ["--no-seed"]),
        *([] if config.iam else ["--no-iam"]),
    ]


def start_detached(
    config: EmulatorConfig, timeout: float = START_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Starts the emulator in its own session and waits until it is ready; its output goes
    to <state dir>/emulator.log. Returns its state (pid, endpoints)."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    state_file(config.state_dir).unlink(missing_ok=True)
    log_path = config.state_dir / "emulator.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            up_command(config),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = read_state(config.state_dir)
        if state is not None and state["pid"] == process.pid:
            return state
        if process.poll() is not None:
            tail = " | ".join(log_path.read_text().splitlines()[-5:])
            raise EmulatorStartFailed(f"the emulator exited during start ({log_path}): {tail}")
        time.sleep(0.2)
    stop_process(process.pid)
    raise EmulatorStartFailed(f"the emulator did not start in {timeout:.0f} s: see {log_path}")


def stop_detached(state_dir: Path) -> int | None:
    """Stops the emulator running from `state_dir`; returns its pid, None if none ran."""
    state = read_state(state_dir)
    if state is None:
        return None
    pid = int(state["pid"])
    stop_process(pid)
    state_file(state_dir).unlink(missing_ok=True)
    return pid


def stop_process(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM (the emulator stops its workers), then SIGKILL if it is still there."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
