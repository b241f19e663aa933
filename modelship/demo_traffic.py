"""HTTP traffic for `make demo`: single requests to the local HTTP API, and steady POST
traffic in the background to one route, counted by status and model version. The steady
traffic is rows of the reference dataset, so the drift monitor, which compares the captured
rows with the training profile, sees what it would see in production: one batch repeated
would be drift. All traffic of a process shares one pace, under the stage's throttling
(50 requests/s, burst 100 by default; the local gateway applies it too)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from itertools import cycle
from typing import Any

from modelship.api_client import ApiClient

PREDICT_PATH = "/predict"
# Requests per second a process sends at most, below the default stage rate limit (50).
PACE_PER_SECOND = 40.0


class Pacer:
    """Spaces calls at least 1/`per_second` apart, across threads."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        time.sleep(start - now)


PACER = Pacer(PACE_PER_SECOND)


class Traffic:
    """Steady POST traffic to one route in the background, counting answers by status and
    model version (X-Model-Version)."""

    def __init__(
        self, api_url: str, bodies: Sequence[str], path: str = PREDICT_PATH, threads: int = 2
    ) -> None:
        self.api_url = api_url
        self.client = ApiClient(api_url)
        self.path = path
        self._bodies = cycle([body.encode() for body in bodies])
        self._lock = threading.Lock()
        self.seen: Counter[tuple[int, str]] = Counter()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                body = next(self._bodies)
            try:
                status, version, _ = post(self.api_url, body, self.path, self.client)
            except OSError:
                status, version = 0, "connection failed"
            self.seen[(status, version)] += 1
            self._stop.wait(0.02)

    def reset(self) -> Counter[tuple[int, str]]:
        seen, self.seen = self.seen, Counter()
        return seen


def post(
    api_url: str, body: bytes, path: str = PREDICT_PATH, client: ApiClient | None = None
) -> tuple[int, str, dict[str, Any]]:
    """(status, X-Model-Version, JSON body) of one signed request to the local HTTP API."""
    PACER.wait()
    answer = (client or ApiClient(api_url)).call(
        "POST", path, body, {"content-type": "application/json"}
    )
    return answer.status, answer.header("X-Model-Version"), answer.json()


def get(api_url: str, path: str) -> tuple[int, dict[str, Any]]:
    answer = ApiClient(api_url).call("GET", path)
    return answer.status, answer.json()


def print_traffic(seen: Counter[tuple[int, str]], label: str = "traffic meanwhile") -> None:
    total = sum(seen.values())
    print(f"   {label}: {total} requests")
    for (status, version), count in sorted(seen.items()):
        print(f"     {status} from {version:<28} {count:5d}  ({count / max(total, 1):.0%})")


def reference_bodies(batches: int = 200, rows: int = 5, seed: int = 11) -> list[str]:
    """`{"instances": [...]}` bodies of `rows` rows each, drawn from the reference dataset
    (undrifted), as JSON text."""
    from modelship.training.churn import generate_churn

    table = generate_churn(n_rows=batches * rows, seed=seed)
    numeric = {name for name in table.feature_names if table.kinds[name] == "numeric"}
    instances = [
        {
            name: _number(table.columns[name][i])
            if name in numeric
            else str(table.columns[name][i])
            for name in table.feature_names
        }
        for i in range(batches * rows)
    ]
    return [
        json.dumps({"instances": instances[start : start + rows]})
        for start in range(0, len(instances), rows)
    ]


def _number(value: Any) -> float | None:
    number = float(value)
    return None if number != number else number  # a missing value (NaN) is sent as null
