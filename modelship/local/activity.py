"""What the emulator did on its own (alarm changes, deliveries, denials), one JSON line each
in <state dir>/activity.jsonl; the demo and the e2e tests read it."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ACTIVITY_FILE = "activity.jsonl"


class ActivityLog:
    """What the emulator did on its own (alarm changes, deliveries), one JSON line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, kind: str, detail: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"at": now.isoformat(), "kind": kind, **detail}, default=str)
        with self._lock, self.path.open("a") as out:
            out.write(line + "\n")


def read_activity(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / ACTIVITY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
