"""Signature Version 4 verification of requests to an HTTP API's `AWS_IAM` routes, as API
Gateway checks them: the canonical request is rebuilt from the request as it arrived (method,
path, query string, the headers named in SignedHeaders, the SHA-256 of the body actually
sent), the credential scope must be <date>/<the API's region>/execute-api/aws4_request, the
request time within 5 minutes of now, the access key one the emulator issued, with its session
token. Both placements AWS accepts are checked: the Authorization header and a presigned
query string (X-Amz-Signature).

Each refusal is a 403 with the body and `x-amzn-ErrorType` API Gateway sends ("Troubleshoot
signed requests for AWS APIs", IAM User Guide; knowledge center "api-gateway-iam-sigv4-
mismatch"). Only the signature is checked: who signed is not authorized per principal (every
request the emulator accepts is signed with the emulator's own, admin, credentials).
"""

from __future__ import annotations

import hashlib
import hmac
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
# "the request must reach AWS within five minutes of the time stamp in the request"
MAX_SKEW = timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_PARAM = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
UNRECOGNIZED_CLIENT = "The security token included in the request is invalid."


@dataclass(frozen=True)
class Credentials:
    """A key the verifier knows: its secret, and the session token issued with it (if any)."""

    access_key: str
    secret_key: str
    session_token: str | None = None


@dataclass(frozen=True)
class Refusal:
    """What API Gateway answers a request it refuses."""

    status: int
    error_type: str
    message: str

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        import json

        headers = {"content-type": "application/json", "x-amzn-ErrorType": self.error_type}
        return self.status, headers, json.dumps({"message": self.message}).encode()


FORBIDDEN = Refusal(403, "ForbiddenException", "Forbidden")


@dataclass(frozen=True)
class _Signed:
    credential: str
    signed_headers: list[str]
    signature: str
    amz_date: str | None
    token: str | None
    expires: int | None  # presigned URLs only


def verify(
    method: str,
    path: str,
    query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    known: Mapping[str, Credentials],
    region: str,
    now: datetime | None = None,
) -> Refusal | None:
    """None when the request is signed, for this region and execute-api, by a key in `known`
    (by access key id); else what API Gateway answers."""
    now = now or datetime.now(UTC)
    header_values = _header_values(headers)
    pairs = parse_qsl(query, keep_blank_values=True)
    presigned = any(k == "X-Amz-Signature" for k, _ in pairs)
    authorization = header_values.get("authorization")
    if presigned:
        signed = _from_query(dict(pairs))
        canonical_pairs = [(k, v) for k, v in pairs if k != "X-Amz-Signature"]
    elif authorization is not None:
        signed = _from_header(",".join(authorization), header_values)
        canonical_pairs = pairs
    else:
        return FORBIDDEN
    if isinstance(signed, Refusal):
        return signed
    if signed.amz_date is None:
        return _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        when = datetime.strptime(signed.amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{signed.amz_date}'.")
    stale = _stale(signed.amz_date, when, signed.expires, now)
    if stale is not None:
        return stale
    scope = signed.credential.split("/")
    if len(scope) != 5:
        return _incomplete(
            f"Credential should have 5 parts: <key>/<date>/<region>/<service>/aws4_request, "
            f"got '{signed.credential}'."
        )
    access_key, date, scoped_region, service, terminator = scope
    scope_refusal = _check_scope(date, scoped_region, service, terminator, signed.amz_date, region)
    if scope_refusal is not None:
        return scope_refusal
    credentials = known.get(access_key)
    if credentials is None or (credentials.session_token or None) != (signed.token or None):
        return Refusal(403, "UnrecognizedClientException", UNRECOGNIZED_CLIENT)
    missing = [name for name in signed.signed_headers if name not in header_values]
    if "host" not in signed.signed_headers or missing:
        return _mismatch_plain()
    canonical = "\n".join(
        [
            method.upper(),
            canonical_path(path),
            canonical_query(canonical_pairs),
            "".join(
                f"{name}:{','.join(_trim(v) for v in header_values[name])}\n"
                for name in signed.signed_headers
            ),
            ";".join(signed.signed_headers),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    credential_scope = "/".join(scope[1:])
    to_sign = "\n".join(
        [
            ALGORITHM,
            signed.amz_date,
            credential_scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = signing_key(credentials.secret_key, date, scoped_region, service)
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if hmac.compare_digest(expected, signed.signature):
        return None
    # API Gateway tells the caller what it computed, so a client can find its mistake.
    return Refusal(
        403,
        "InvalidSignatureException",
        f"{_MISMATCH}\n\nThe Canonical String for this request should have been\n'{canonical}'"
        f"\n\nThe String-to-Sign should have been\n'{to_sign}'\n",
    )


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_path(path: str) -> str:
    """The path as execute-api signs it: dot segments removed, each segment URI-encoded
    (a path that arrives percent-encoded is encoded again, as AWS's services other than S3
    do)."""
    normalized = posixpath.normpath(path or "/")
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    normalized = "/" + normalized.lstrip("/")
    return quote(normalized, safe="/~")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def _header_values(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value)
    return values


def _trim(value: str) -> str:
    return " ".join(value.split())


def _from_header(authorization: str, headers: Mapping[str, list[str]]) -> _Signed | Refusal:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        # Not a SigV4 header at all (a Bearer token, Basic auth): API Gateway names what
        # it expected.
        return _incomplete(
            f"Authorization header requires 'Credential' parameter. Authorization header "
            f"requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
            f"parameter. Authorization header requires existence of either a 'X-Amz-Date' or "
            f"a 'Date' header. Authorization={authorization.split(' ', 1)[0]}"
        )
    params = {}
    for part in rest.split(","):
        found = _PARAM.fullmatch(part)
        if found is not None:
            params[found[1]] = found[2]
    absent = [p for p in ("Credential", "Signature", "SignedHeaders") if not params.get(p)]
    if absent:
        return _incomplete(
            " ".join(f"Authorization header requires '{p}' parameter." for p in absent)
            + f" Authorization={authorization}"
        )
    date = headers.get("x-amz-date")
    token = headers.get("x-amz-security-token")
    return _Signed(
        credential=params["Credential"],
        signed_headers=params["SignedHeaders"].split(";"),
        signature=params["Signature"],
        amz_date=date[-1] if date else None,
        token=token[-1] if token else None,
        expires=None,
    )


def _from_query(query: Mapping[str, str]) -> _Signed | Refusal:
    absent = [
        name
        for name in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Date")
        if not query.get(name)
    ]
    if absent or query.get("X-Amz-Algorithm") != ALGORITHM:
        return _incomplete(
            " ".join(f"AWS query-string parameters must include '{p}'." for p in absent)
            or f"Unsupported AWS 'algorithm': '{query.get('X-Amz-Algorithm')}'"
        )
    expires = query.get("X-Amz-Expires", "")
    return _Signed(
        credential=query["X-Amz-Credential"],
        signed_headers=query["X-Amz-SignedHeaders"].split(";"),
        signature=query["X-Amz-Signature"],
        amz_date=query["X-Amz-Date"],
        token=query.get("X-Amz-Security-Token"),
        expires=int(expires) if expires.isdigit() else None,
    )


def _stale(amz_date: str, when: datetime, expires: int | None, now: datetime) -> Refusal | None:
    stamp = now.strftime(_AMZ_DATE)
    if when > now + MAX_SKEW:
        later = (now + MAX_SKEW).strftime(_AMZ_DATE)
        return _invalid(
            f"Signature not yet current: {amz_date} is still later than {later} ({stamp} + 5 min.)"
        )
    # A presigned URL lives X-Amz-Expires seconds; a signed header, 5 minutes.
    lifetime = timedelta(seconds=expires) if expires is not None else MAX_SKEW
    if when < now - lifetime:
        earlier = (now - lifetime).strftime(_AMZ_DATE)
        window = f"{expires} s" if expires is not None else "5 min."
        return _invalid(
            f"Signature expired: {amz_date} is now earlier than {earlier} ({stamp} - {window})"
        )
    return None


def _check_scope(
    date: str, region: str, service: str, terminator: str, amz_date: str, api_region: str
) -> Refusal | None:
    if date != amz_date[:8]:
        return _invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if region != api_region:
        return _invalid(f"Credential should be scoped to a valid region, not '{region}'. ")
    if service != SERVICE:
        return _invalid(f"Credential should be scoped to correct service: '{SERVICE}'. ")
    if terminator != "aws4_request":
        return _invalid(
            f"Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{terminator}'. "
        )
    return None


def _incomplete(message: str) -> Refusal:
    return Refusal(403, "IncompleteSignatureException", message)


def _invalid(message: str) -> Refusal:
    return Refusal(403, "InvalidSignatureException", message)


def _mismatch_plain() -> Refusal:
    # SignedHeaders must name `host` and only headers the request carries.
    return _invalid(_MISMATCH)
