"""Signature Version 4 for calls to the HTTP API's `AWS_IAM` routes (service `execute-api`).

A route under the IAM authorizer answers an unsigned request 403; callers sign with the
credentials of boto3's normal chain (the local emulator's fake ones when AWS_ENDPOINT_URL
points at it). The region is the API's own, read from its execute-api host when the URL
has one, else the session's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

SERVICE = "execute-api"
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


class SigningUnavailable(Exception):
    """No credentials or no region to sign with."""


def api_region(url: str, default: str | None) -> str:
    """The region whose key signs a request to `url`."""
    found = _EXECUTE_API_HOST.search(urlsplit(url).hostname or "")
    region = found["region"] if found else default
    if not region:
        raise SigningUnavailable(
            f"no region to sign a request to {url}: set AWS_REGION or AWS_DEFAULT_REGION"
        )
    return region


def session_credentials(session: Any = None) -> tuple[ReadOnlyCredentials, str | None]:
    """(frozen credentials, region) of boto3's default chain, or of `session`."""
    import boto3

    active = session if session is not None else boto3.session.Session()
    credentials = active.get_credentials()
    if credentials is None:
        raise SigningUnavailable(
            "no AWS credentials to sign the request with (boto3's chain found none)"
        )
    return credentials.get_frozen_credentials(), active.region_name


def signed_headers(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    credentials: ReadOnlyCredentials,
    region: str,
) -> dict[str, str]:
    """`headers` plus Authorization, X-Amz-Date, X-Amz-Content-Sha256 (and
    X-Amz-Security-Token for temporary credentials) for this exact method, URL and body."""
    request = AWSRequest(method=method.upper(), url=url, data=body or b"", headers=dict(headers))
    signer = SigV4Auth(credentials, SERVICE, region)
    request.headers["X-Amz-Content-Sha256"] = signer.payload(request)
    signer.add_auth(request)
    return dict(request.headers.items())
