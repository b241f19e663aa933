"""The emulator's gateway routes and encodes requests the way an API Gateway HTTP API does."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from modelship.local.gateway import (
    Gateway,
    IntegrationDenied,
    Throttle,
    integration_function,
    stage_throttle,
)

CHURN = "arn:aws:lambda:us-east-1:123456789012:function:app-ChurnPredict:live"
FOREST = "arn:aws:lambda:us-east-1:123456789012:function:app-ForestPredict:live"
ROUTES = {
    "POST /predict": CHURN,
    "GET /health": CHURN,
    "POST /models/churn/predict": CHURN,
    "POST /models/churn-forest/predict": FOREST,
}


class RecordingFunction:
    """Answers 200 and keeps the events it was invoked with, and the integrations."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.targets: list[str] = []

    def __call__(self, target: str, event: dict[str, Any]) -> Any:
        self.targets.append(target)
        self.events.append(event)
        # The two attributes of an InvocationResult the gateway reads.
        return SimpleNamespace(payload={"statusCode": 200, "body": "{}"}, failed=False)


@pytest.fixture
def function() -> RecordingFunction:
    return RecordingFunction()


@pytest.fixture
def gateway(function: RecordingFunction) -> Iterator[Gateway]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = Gateway(function, ROUTES, "127.0.0.1", port)
    served.start()
    yield served
    served.stop()


def _request(
    gateway: Gateway, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    host, port = gateway.server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("TRACE", "/predict"),
        ("PATCH", "/health"),
        ("OPTIONS", "/predict"),
        ("BREW", "/predict"),
        ("GET", "/predict"),
        ("POST", "/nowhere"),
        ("POST", "/models/unknown/predict"),
        ("GET", "/models/churn-forest/predict"),
    ],
)
def test_unmatched_methods_and_routes_are_json_404(
    gateway: Gateway, function: RecordingFunction, method: str, path: str
) -> None:
    status, headers, body = _request(gateway, method, path)

    assert status == 404
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Not Found"}
    assert function.events == []


def test_head_of_an_unmatched_route_has_no_body(gateway: Gateway) -> None:
    status, _, body = _request(gateway, "HEAD", "/nowhere")

    assert (status, body) == (404, b"")


def test_a_request_http_cannot_parse_is_a_json_400(gateway: Gateway) -> None:
    host, port = gateway.server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as raw:
        raw.sendall(b"NOT A REQUEST LINE AT ALL\r\n\r\n")
        answer = b""
        while chunk := raw.recv(4096):  # the gateway closes the connection after answering
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body) == {"message": "Bad Request"}


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "text/plain"]
)
def test_text_bodies_reach_the_function_as_text(
    gateway: Gateway, function: RecordingFunction, content_type: str
) -> None:
    _request(gateway, "POST", "/predict", b'{"instances": []}', **{"Content-Type": content_type})

    event = function.events[0]
    assert (event["body"], event["isBase64Encoded"]) == ('{"instances": []}', False)
    assert event["headers"]["content-type"] == content_type


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/octet-stream", b"\x89PNG\r\n\x1a\n\x00\xff"),
        ("application/x-www-form-urlencoded", b'{"instances": []}'),
        ("image/png", b"\x00\x01"),
        ("application/json", b"\xff\xfe not utf-8"),
    ],
)
def test_other_bodies_reach_the_function_base64_encoded(
    gateway: Gateway, function: RecordingFunction, content_type: str, body: bytes
) -> None:
    _request(gateway, "POST", "/predict", body, **{"Content-Type": content_type})

    event = function.events[0]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_each_route_goes_to_the_alias_of_its_own_integration(
    gateway: Gateway, function: RecordingFunction
) -> None:
    for path in ("/models/churn-forest/predict", "/predict", "/models/churn/predict"):
        status, _, _ = _request(
            gateway, "POST", path, b"{}", **{"Content-Type": "application/json"}
        )
        assert status == 200

    assert function.targets == [FOREST, CHURN, CHURN]
    assert [e["rawPath"] for e in function.events] == [
        "/models/churn-forest/predict",
        "/predict",
        "/models/churn/predict",
    ]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (FOREST, ("app-ForestPredict", "live")),
        ("arn:aws:lambda:us-east-1:123456789012:function:app-Fn", ("app-Fn", None)),
        (
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:123456789012:function:app-Fn:7/invocations",
            ("app-Fn", "7"),
        ),
    ],
)
def test_the_integration_uri_names_the_function_and_qualifier(
    uri: str, expected: tuple[str, str | None]
) -> None:
    assert integration_function(uri) == expected


def test_an_integration_naming_no_function_is_refused() -> None:
    with pytest.raises(IntegrationDenied, match="names no Lambda function"):
        integration_function("http://example.com/backend")


def test_paths_no_route_claims_go_to_the_emulators_pages_and_routes_come_first(
    function: RecordingFunction,
) -> None:
    from modelship.local.dashboard import Answer

    asked: list[tuple[str, str, str]] = []

    def pages(method: str, path: str, query: str) -> Answer | None:
        asked.append((method, path, query))
        return Answer(200, "text/html", b"<p>page</p>") if path.startswith("/_local/") else None

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = Gateway(
        function, {**ROUTES, "GET /_local/dashboards/x": CHURN}, "127.0.0.1", port, pages
    )
    served.start()
    try:
        page = _request(served, "GET", "/_local/dashboards/d?minutes=5")
        routed = _request(served, "GET", "/_local/dashboards/x")
        missing = _request(served, "GET", "/nowhere")
    finally:
        served.stop()

    assert page[0] == 200
    assert page[2] == b"<p>page</p>"
    assert page[1]["content-type"] == "text/html"
    # A route of the API wins over a page at the same path; other paths still 404.
    assert routed[0] == 200
    assert function.targets == [CHURN]
    assert missing == (404, missing[1], b'{"message":"Not Found"}')
    assert ("GET", "/_local/dashboards/d", "minutes=5") in asked
    assert all(path != "/_local/dashboards/x" for _, path, _ in asked)


class AnsweringFunction:
    """Answers every invocation with `payload` (or a function error)."""

    def __init__(self, payload: Any, failed: bool = False) -> None:
        self.payload, self.failed = payload, failed
        self.calls = 0

    def __call__(self, target: str, event: dict[str, Any]) -> Any:
        self.calls += 1
        return SimpleNamespace(payload=self.payload, failed=self.failed)


def _served(function: Any, throttle: Throttle | None = None) -> Gateway:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served = Gateway(function, ROUTES, "127.0.0.1", port, throttle=throttle)
    served.start()
    return served


@pytest.mark.parametrize(
    ("payload", "failed"),
    [
        ({"errorType": "ValueError", "errorMessage": "boom"}, True),
        ({"statusCode": "two hundred", "body": "{}"}, False),
        ({"statusCode": 700, "body": "{}"}, False),
        ({"statusCode": 200, "body": {"not": "a string"}}, False),
        ({"statusCode": 200, "headers": ["x"], "body": "{}"}, False),
        ({"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}, False),
    ],
)
def test_a_function_error_or_a_malformed_answer_is_a_502(payload: Any, failed: bool) -> None:
    served = _served(AnsweringFunction(payload, failed))
    try:
        status, headers, body = _request(served, "POST", "/predict", b"{}")
    finally:
        served.stop()

    assert status == 502
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"message": "Internal Server Error"}


@pytest.mark.parametrize("payload", [{"body": "plain"}, "a bare string", [1, 2]])
def test_json_without_a_status_code_is_the_body_of_a_200(payload: Any) -> None:
    served = _served(AnsweringFunction(payload))
    try:
        status, headers, body = _request(served, "POST", "/predict", b"{}")
    finally:
        served.stop()

    assert (status, headers["content-type"]) == (200, "application/json")
    assert json.loads(body) == payload


def test_requests_beyond_the_stage_token_bucket_are_429_and_never_invoke() -> None:
    now = [0.0]
    function = AnsweringFunction({"statusCode": 200, "body": "{}"})
    throttle = stage_throttle(
        {"ThrottlingRateLimit": 2, "ThrottlingBurstLimit": 3}, clock=lambda: now[0]
    )
    served = _served(function, throttle)
    try:
        burst = [_request(served, "POST", "/predict", b"{}")[0] for _ in range(4)]
        _, _, refused = _request(served, "POST", "/predict", b"{}")
        now[0] += 1.0  # two tokens back
        after = [_request(served, "POST", "/predict", b"{}")[0] for _ in range(3)]
        unrouted = _request(served, "POST", "/nowhere")[0]
    finally:
        served.stop()

    assert burst == [200, 200, 200, 429]
    assert json.loads(refused) == {"message": "Too Many Requests"}
    assert after == [200, 200, 429]
    assert function.calls == 5
    assert unrouted == 404


def test_a_stage_without_limits_is_not_throttled_and_bad_limits_are_refused() -> None:
    assert stage_throttle({}) is None
    assert stage_throttle({"DetailedMetricsEnabled": False}) is None
    with pytest.raises(ValueError, match="rate above 0"):
        Throttle(0, 10)
