"""The local HTTP gateway: API Gateway HTTP API (payload format 2.0) in front of the aliases.

Each request on a route of the template becomes a v2.0 event for that route's integration
(each model's routes go to that model's alias); the Lambda version is picked per request by
the alias's weights, read from moto for every request, so a shift or a
rollback takes effect on the next request. The handler's answer is returned as API Gateway
returns it (JSON without a statusCode as the body of a 200); a function error (an unhandled
exception, a crashed or timed-out worker) or a malformed answer (a statusCode that is no
HTTP status, a body that is not a string, bad base64) is a 502
`{"message":"Internal Server Error"}`, and an
integration API Gateway may not invoke a 500 with the same body (AWS Lambda developer guide,
"Handling Lambda errors with an API Gateway API"). Requests beyond the stage's
DefaultRouteSettings (ThrottlingRateLimit, ThrottlingBurstLimit: a token bucket) are a 429
`{"message":"Too Many Requests"}` before the integration is invoked. Any
method and path with no route, TRACE and unknown methods included, is a 404
`{"message":"Not Found"}`, as an HTTP API answers it. Bodies reach the function the way an
HTTP API passes them: text content types as text, every other body (no content type
included) base64-encoded with `isBase64Encoded: true`.
Paths no route of the API claims may be answered by the emulator's own pages (`pages`: the
dashboards under /_local/, modelship.local.dashboard); the API's routes always come first.
Each route is authorized as its AuthorizationType says before anything else happens to the
request (`authorize`, modelship.local.api_authorizers): an unsigned or badly signed request to
an AWS_IAM route is a 403, a JWT route without a valid token of the local issuer a 401.
Not emulated: Lambda (CUSTOM) authorizers, per-route throttling overrides, the account-level
throttle, and custom domains.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from modelship.local.dashboard import Answer
from modelship.local.executor import InvocationResult
from modelship.sample_events import http_api_event

# (the route's integration URI, an HTTP API v2.0 event) -> the invocation of the version the
# alias's weights picked.
Invoke = Callable[[str, dict[str, Any]], InvocationResult]
# (method, path, query string) -> the emulator's own page, or None when it has none there.
Pages = Callable[[str, str, str], "Answer | None"]
# (method, path, query string, headers, body) -> (status, headers, body) of the refusal, or
# None when the route's authorizer lets the request through.
Authorize = Callable[
    [str, str, str, list[tuple[str, str]], bytes], "tuple[int, dict[str, str], bytes] | None"
]
_NOT_FOUND = b'{"message":"Not Found"}'
_INTERNAL = b'{"message":"Internal Server Error"}'
_TOO_MANY = b'{"message":"Too Many Requests"}'
_JSON = {"content-type": "application/json"}
# Media types passed as text; `+json` and `+xml` suffixes count too.
_TEXT_MEDIA_TYPES = {"application/json", "application/javascript", "application/xml"}


def is_text_content_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";")[0].strip().lower()
    return (
        media.startswith("text/") or media in _TEXT_MEDIA_TYPES or media.endswith(("+json", "+xml"))
    )


def event_body(raw: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """(body, isBase64Encoded) of the v2.0 event for the bytes a client sent."""
    if not raw:
        return None, False
    if is_text_content_type(content_type):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass  # not representable as text: passed on encoded, like binary
    return base64.b64encode(raw).decode("ascii"), True


class Throttle:
    """The stage's token bucket: `burst` tokens, refilled at `rate` per second; a request
    takes one or is refused. `clock` (monotonic seconds) is for tests."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(
                f"throttling needs a rate above 0 and a burst of at least 1, got {rate}, {burst}"
            )
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def stage_throttle(
    settings: Mapping[str, Any] | None, clock: Callable[[], float] = time.monotonic
) -> Throttle | None:
    """The throttle of a stage's DefaultRouteSettings (None when it sets no limits)."""
    settings = settings or {}
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    if rate is None or burst is None:
        return None
    return Throttle(float(rate), int(burst), clock)


class MalformedAnswer(Exception):
    """The function's answer is not an HTTP API payload format 2.0 response."""


def integration_answer(payload: Any) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of a function's v2.0 response. JSON without a statusCode is
    the body of a 200 (API Gateway developer guide, "Create AWS Lambda proxy integrations for
    HTTP APIs": format 2.0 infers the response)."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        return 200, dict(_JSON), json.dumps(payload).encode()
    status = payload["statusCode"]
    headers = payload.get("headers") or {}
    raw = payload.get("body") or ""
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedAnswer(f"statusCode {status!r} is not an HTTP status")
    if not isinstance(headers, dict) or not isinstance(raw, str):
        raise MalformedAnswer("headers must be an object and body a string")
    data = raw.encode()
    if payload.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except ValueError:
            raise MalformedAnswer("isBase64Encoded is set and body is not base64") from None
    return status, {str(k): str(v) for k, v in headers.items()}, data


class IntegrationDenied(Exception):
    """API Gateway may not invoke the function (its resource policy does not allow it)."""


_LAMBDA_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:(?P<name>[A-Za-z0-9_-]+)"
    r"(?::(?P<qualifier>[A-Za-z0-9_$-]+))?"
)


def integration_function(uri: str) -> tuple[str, str | None]:
    """(function name, alias or version) an AWS_PROXY integration invokes: its URI is the
    function's (qualified) ARN, or the apigateway `.../functions/<arn>/invocations` form."""
    found = _LAMBDA_ARN.search(uri)
    if found is None:
        raise IntegrationDenied(f"integration {uri!r} names no Lambda function")
    return found["name"], found["qualifier"]


def route_keys(routes: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """(method, path) -> integration URI, from route keys ("POST /predict")."""
    keys = {}
    for route, target in routes.items():
        method, _, path = route.partition(" ")
        keys[(method.upper(), path)] = target
    return keys


class Gateway:
    def __init__(
        self,
        invoke: Invoke,
        routes: Mapping[str, str],
        host: str,
        port: int,
        pages: Pages | None = None,
        authorize: Authorize | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self.invoke = invoke
        self.throttle = throttle
        self.routes = route_keys(routes)
        self.pages = pages
        self.authorize = authorize
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def __getattr__(self, name: str) -> Any:
                # http.server looks up `do_<METHOD>` and answers a missing one with an HTML
                # 501; every method goes to the router instead.
                if name.startswith("do_"):
                    return lambda: gateway.handle(self)
                raise AttributeError(name)

            def send_error(
                self, code: int, message: str | None = None, explain: str | None = None
            ) -> None:
                # A request http.server cannot parse: a JSON answer, not its HTML page.
                phrase = self.responses.get(code, ("Error",))[0]
                data = json.dumps({"message": phrase}).encode()
                self.close_connection = True
                # An unparsed request line leaves http.server's HTTP/0.9 default, which
                # would drop the status line and headers.
                self.request_version = self.protocol_version
                gateway._answer(self, code, _JSON, data, str(uuid.uuid4()))

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits for the loop to see it (0.5 s by default).
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path, _, query = request.path.partition("?")
        length = int(request.headers.get("Content-Length") or 0)
        sent = request.rfile.read(length) if length else b""
        request_id = str(uuid.uuid4())
        target = self.routes.get((request.command, path))
        if target is None:
            page = self.pages(request.command, path, query) if self.pages else None
            if page is not None:
                headers = {"content-type": page.content_type, "cache-control": "no-store"}
                self._answer(request, page.status, headers, page.body, request_id)
                return
            self._answer(request, 404, _JSON, _NOT_FOUND, request_id)
            return
        refusal = self.authorize and self.authorize(
            request.command, path, query, list(request.headers.items()), sent
        )
        if refusal:
            self._answer(request, *refusal, request_id)
            return
        if self.throttle is not None and not self.throttle.take():
            self._answer(request, 429, _JSON, _TOO_MANY, request_id)
            return
        body, base64_encoded = event_body(sent, request.headers.get("Content-Type"))
        event = http_api_event(request.command, path, body, request_id=request_id)
        event["isBase64Encoded"] = base64_encoded
        event["rawQueryString"] = query
        event["headers"] = {k.lower(): v for k, v in request.headers.items()}
        try:
            result = self.invoke(target, event)
        except IntegrationDenied:
            # What an HTTP API answers when the Lambda permission is missing.
            self._answer(request, 500, {"content-type": "application/json"}, _INTERNAL, request_id)
            return
        try:
            if result.failed:
                raise MalformedAnswer("function error")
            status, headers, data = integration_answer(result.payload)
        except MalformedAnswer:
            self._answer(request, 502, _JSON, _INTERNAL, request_id)
            return
        self._answer(request, status, headers, data, request_id)

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        data: bytes,
        request_id: str,
    ) -> None:
        request.send_response(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "connection"}:
                request.send_header(name, value)
        request.send_header("apigw-requestid", request_id)
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(data)
