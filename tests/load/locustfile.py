"""The load of `make load` (locust): users posting rows of the reference dataset to /predict,
each at a constant rate, every request SigV4-signed with the credentials in the environment
(the emulator's fake ones). Each answer is named in locust's statistics by the model version
that gave it (X-Model-Version) and written, one JSON line per request, to $LOAD_RECORDS for
tests.load.run to split by phase and version.

Run by tests.load.run as a subprocess; never import this module into another process: importing
locust patches the standard library for gevent.
"""

from __future__ import annotations

import os
import random
from typing import Any, TextIO

from botocore.credentials import ReadOnlyCredentials
from locust import HttpUser, constant_throughput, events, task

from modelship.api_signing import signed_headers
from modelship.demo_traffic import reference_bodies
from tests.load.figures import NO_VERSION, Record

PATH = "/predict"
# Requests of one row mixed with batches of ten rows, three to one.
ONE_ROW = [body.encode() for body in reference_bodies(batches=400, rows=1, seed=11)]
TEN_ROWS = [body.encode() for body in reference_bodies(batches=100, rows=10, seed=12)]
CREDENTIALS = ReadOnlyCredentials(
    os.environ["AWS_ACCESS_KEY_ID"],
    os.environ["AWS_SECRET_ACCESS_KEY"],
    os.environ.get("AWS_SESSION_TOKEN"),
)
REGION = os.environ["AWS_REGION"]
_records: dict[str, TextIO] = {}


@events.test_start.add_listener
def _open_records(**_: Any) -> None:
    _records["file"] = open(os.environ["LOAD_RECORDS"], "a", buffering=1)  # noqa: SIM115


@events.quitting.add_listener
def _close_records(**_: Any) -> None:
    if "file" in _records:
        _records.pop("file").close()


@events.request.add_listener
def _record(
    response_time: float, response: Any, context: dict[str, Any], start_time: float, **_: Any
) -> None:
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", None) or {}
    version = headers.get("X-Model-Version") or NO_VERSION
    record = Record(start_time, response_time, status, version, int(context.get("rows", 0)))
    if "file" in _records:
        _records["file"].write(record.to_json() + "\n")


class PredictUser(HttpUser):
    wait_time = constant_throughput(float(os.environ.get("LOAD_RATE_PER_USER", "1")))

    def _predict(self, body: bytes, rows: int) -> None:
        url = self.host.rstrip("/") + PATH
        headers = signed_headers(
            "POST", url, body, {"content-type": "application/json"}, CREDENTIALS, REGION
        )
        with self.client.post(
            PATH, data=body, headers=headers, catch_response=True, context={"rows": rows}
        ) as response:
            version = response.headers.get("X-Model-Version") or NO_VERSION
            response.request_meta["name"] = f"{PATH} {version}"

    @task(3)
    def one_row(self) -> None:
        self._predict(random.choice(ONE_ROW), 1)

    @task(1)
    def ten_rows(self) -> None:
        self._predict(random.choice(TEN_ROWS), 10)
