"""Release commands of the CLI (release, canary, promote, rollback, status, history, rollout)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Adds the release commands to the `modelship` parser."""
