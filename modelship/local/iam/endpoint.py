"""The emulator's authorization endpoint for worker processes (see worker_guard.py).

A loopback HTTP server: POST a JSON call {role, session, service, operation, params}, or
with "kind": "missing_object" the question whether S3 tells this role a key is missing
(404) or 403; the
answer is {"allowed": true} or {"allowed": false, "error": <botocore error response>}.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelship.local.iam.authorizer import AccessDenied, Authorizer

GUARD_SCRIPT = Path(__file__).resolve().with_name("worker_guard.py")


class AuthorizationEndpoint:
    def __init__(self, authorizer: Authorizer, host: str = "127.0.0.1") -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                call = json.loads(self.rfile.read(length))
                data = json.dumps(endpoint.decide(call)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.authorizer = authorizer
        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        # A short poll: shutdown() waits for the loop to see it (0.5 s by default).
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/authorize"

    def decide(self, call: dict[str, Any]) -> dict[str, Any]:
        role, session, params = str(call["role"]), str(call["session"]), call.get("params") or {}
        try:
            if call.get("kind") == "missing_object":
                self.authorizer.missing_object(role, session, params)
            else:
                self.authorizer.authorize_call(
                    role, session, str(call["service"]), str(call["operation"]), params
                )
        except AccessDenied as denied:
            return {"allowed": False, "error": denied.error_response}
        return {"allowed": True}

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
