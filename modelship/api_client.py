"""One HTTP call to the HTTP API, authorized as its routes require: SigV4-signed with boto3's
credentials for `AWS_IAM` routes (the emulator's own when AWS_ENDPOINT_URL points at it), or
with a JWT Bearer token for `JWT` routes. The signature covers exactly the method, URL (query
string included), headers and body bytes sent. Used by `modelship invoke --url`, the demo's
traffic and the tests.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from botocore.credentials import ReadOnlyCredentials

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
    """Calls to the API at `api_url`, signed with `credentials` (default: boto3's chain, or
    `session`'s) for `region` (default: the API host's, else the session's). `token` set: a
    Bearer token instead of a signature; `sign` False: neither (a NONE route, or to see what
    an unsigned caller gets)."""

    api_url: str
    token: str | None = None
    sign: bool = True
    session: Any = None
    credentials: ReadOnlyCredentials | None = None
    region: str | None = None
    timeout: float = 60.0

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiAnswer:
        """The answer to `method` `path` (which may carry a query string), whatever its
        status; OSError when the API cannot be reached. Exactly the headers given (and the
        signature's) are sent, no others but Host and Content-Length."""
        parts = urlsplit(self.api_url.rstrip("/") + path)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError(f"the API URL must be http(s)://host[:port], got {self.api_url!r}")
        host = parts.hostname
        # The query is sent as SigV4 canonicalizes it (RFC 3986 encoding): botocore signs the
        # query string as given, API Gateway decodes and re-encodes it, so `a=1,2` signed raw
        # would be checked as `a=1%2C2`.
        parts = parts._replace(query=canonical_query(parts.query))
        url = parts.geturl()
        sent = dict(headers or {})
        if self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        elif self.sign:
            if self.credentials is None:
                self.credentials, session_region = session_credentials(self.session)
                self.region = self.region or session_region
            region = api_region(url, self.region)
            sent = signed_headers(method, url, body, sent, self.credentials, region)
        connection = (
            http.client.HTTPSConnection(host, parts.port, timeout=self.timeout)
            if parts.scheme == "https"
            else http.client.HTTPConnection(host, parts.port, timeout=self.timeout)
        )
        try:
            target = parts.path or "/"
            connection.request(
                method.upper(), f"{target}?{parts.query}" if parts.query else target, body, sent
            )
            response = connection.getresponse()
            return ApiAnswer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


def canonical_query(query: str) -> str:
    """`query` with every name and value percent-encoded as SigV4 encodes them."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(pairs, quote_via=quote, safe="-_.~")


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
