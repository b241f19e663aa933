"""Sample events in events/: one JSON file per scenario, used by tests, docs and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(name_or_path: str | Path, events_dir: Path = EVENTS_DIR) -> dict[str, Any]:
    """`predict_valid` or `events/predict_valid.json` or any path to a JSON event."""
    path = Path(name_or_path)
    if not path.suffix:
        path = events_dir / f"{path.name}.json"
    try:
        event: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"no event file at {path}") from None
    return event


def http_api_event(
    method: str, path: str, body: str | None = None, request_id: str = "local-request"
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as the gateway would send it."""
    headers = (
        {"content-type": "application/json", "host": "localhost"} if body else {"host": "localhost"}
    )
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "modelship",
            },
            "requestId": request_id,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "27/Nov/2026:04:00:00 +0000",
            "timeEpoch": 1795665600000,
        },
        "body": body,
        "isBase64Encoded": False,
    }
