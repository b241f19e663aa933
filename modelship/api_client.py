"""One HTTP call to the HTTP API, authorized as its routes require: SigV4-signed with boto3's
credentials for `AWS_IAM` routes (the emulator's own when AWS_ENDPOINT_URL points at it), or
with a JWT Bearer token for `JWT` routes. The signature covers exactly the method, URL (query
string included), headers and body bytes sent. Used by `modelship invoke --url`, the demo's
traffic and the tests.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelship.api_signing import api_region, session_credentials, signed_headers


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}

    def header(self, name: str, default: str = "-") -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), default)


@dataclass
class ApiClient:
    """Calls to the API at `api_url`. `token` set: Bearer token, no signature; `sign` False:
    neither (for NONE routes, or to see what an unsigned caller gets)."""

    api_url: str
    token: str | None = None
    sign: bool = True
    session: Any = None
    timeout: float = 60.0
    _credentials: Any = field(default=None, repr=False)
    _region: str | None = field(default=None, repr=False)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiAnswer:
        """The answer to `method` `path` (which may carry a query string), whatever its
        status; OSError when the API cannot be reached."""
        url = self.api_url.rstrip("/") + path
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        elif self.sign:
            if self._credentials is None:
                self._credentials, self._region = session_credentials(self.session)
            region = api_region(url, self._region)
            sent = signed_headers(method, url, body, sent, self._credentials, region)
        request = urllib.request.Request(  # noqa: S310 - an http(s) API URL
            url, data=body, method=method.upper(), headers=sent
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                return ApiAnswer(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return ApiAnswer(error.code, dict(error.headers), error.read())


def call(
    api_url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    token: str | None = None,
) -> ApiAnswer:
    """One call with boto3's default credentials (or `token`)."""
    return ApiClient(api_url, token=token).call(method, path, body, headers)
