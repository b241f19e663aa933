"""The local HTTP gateway: API Gateway HTTP API (payload format 2.0) in front of the aliases.

Each request on a route of the template becomes a v2.0 event for that route's integration
(each model's routes go to that model's alias); the Lambda version is picked per request by
the alias's weights, read from moto for every request, so a shift or a
rollback takes effect on the next request. The handler's answer is returned as API Gateway
returns it; an unhandled function error is a 500 `{"message":"Internal Server Error"}`. Any
method and path with no route, TRACE and unknown methods included, is a 404
`{"message":"Not Found"}`, as an HTTP API answers it. Bodies reach the function the way an
HTTP API passes them: text content types as text, every other body (no content type
included) base64-encoded with `isBase64Encoded: true`.
Paths no route of the API claims may be answered by the emulator's own pages (`pages`: the
dashboards under /_local/, modelship.local.dashboard); the API's routes always come first.
Each route is authorized as its AuthorizationType says before anything else happens to the
request (`authorize`, modelship.local.api_authorizers): an unsigned or badly signed request to
an AWS_IAM route is a 403, a JWT route without a valid token of the local issuer a 401.
Not emulated: Lambda (CUSTOM) authorizers, throttling and custom domains.
"""

from __future__ import annotations

import base64
import json
import re
import threading
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
    ) -> None:
        self.invoke = invoke
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
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

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
        if result.failed or not isinstance(result.payload, dict):
            self._answer(request, 500, _JSON, _INTERNAL, request_id)
            return
        answer = result.payload
        raw = answer.get("body") or ""
        data = base64.b64decode(raw) if answer.get("isBase64Encoded") else str(raw).encode()
        headers = {str(k): str(v) for k, v in (answer.get("headers") or {}).items()}
        self._answer(request, int(answer.get("statusCode", 200)), headers, data, request_id)

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
