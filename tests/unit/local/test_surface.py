"""modelship.local's public names resolve, and loading the handler runner stays light."""

from __future__ import annotations

import subprocess
import sys

import modelship.local


def test_every_public_name_resolves() -> None:
    missing = [name for name in modelship.local.__all__ if not hasattr(modelship.local, name)]

    assert missing == []


def test_the_handler_runner_loads_without_the_emulator_or_moto() -> None:
    # The cold-start benchmark imports it before timing a handler's own imports.
    probe = (
        "import sys, modelship.local.handler_runner; "
        "print(sorted(m for m in sys.modules if m == 'moto' or m.startswith('modelship.local.')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "['modelship.local.handler_runner']"
