"""The emulator's local token issuer: an RS256 key pair made at the first start and kept in the
state directory, its JWKS (published by the gateway under /_local/issuer/), tokens minted for
an audience and scopes, and their validation as an HTTP API JWT authorizer validates them.

A JWT deployment names an https issuer nobody can reach offline; locally this issuer stands
in for it: tokens it mints carry the template's issuer as `iss`, and the gateway checks them
against this key. The claims checked are those of "Control access to HTTP APIs with JWT
authorizers" (API Gateway developer guide): a `kid` of the key set, an RSA signature, `iss`
equal to the authorizer's issuer, `aud` (or `client_id` when there is no `aud`) one of its
audiences, `exp` after now, `nbf` and `iat` before now (no leeway is documented, none is
given), and at least one of the route's authorization scopes in `scope` or `scp`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ISSUER_DIR = "local-issuer"
KEY_FILE = "private-key.pem"
# The JWT authorizers of the deployment the emulator serves, for `modelship local token`.
AUTHORIZERS_FILE = "authorizers.json"
DEFAULT_LIFETIME = 3600


class TokenRejected(Exception):
    """The token fails a check; `description` is what API Gateway's www-authenticate says,
    `insufficient_scope` whether it is only the scopes that fail (403, not 401)."""

    def __init__(self, description: str, insufficient_scope: bool = False) -> None:
        super().__init__(description)
        self.description = description
        self.insufficient_scope = insufficient_scope


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LocalIssuer:
    key: rsa.RSAPrivateKey

    @classmethod
    def load_or_create(cls, state_dir: Path) -> LocalIssuer:
        """The issuer whose key is kept under `state_dir` (made on first use, owner-only)."""
        directory = state_dir / ISSUER_DIR
        path = directory / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{path} holds no RSA private key")
            return cls(key)
        directory.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        return cls(key)

    @property
    def kid(self) -> str:
        numbers = self.key.public_key().public_numbers()
        return hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        size = (numbers.n.bit_length() + 7) // 8
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "n": _b64(numbers.n.to_bytes(size, "big")),
                    "e": _b64(numbers.e.to_bytes(3, "big").lstrip(b"\0")),
                }
            ]
        }

    def mint(
        self,
        issuer: str,
        audience: str | None,
        scopes: Sequence[str] = (),
        subject: str = "local-operator",
        lifetime: int = DEFAULT_LIFETIME,
        now: float | None = None,
        **claims: Any,
    ) -> str:
        """An RS256 token from this key: `iss`, `aud` (left out when None), `scope`, `sub`,
        `iat`/`nbf` now, `exp` after `lifetime` seconds; `claims` added or overriding."""
        issued = int(time.time() if now is None else now)
        payload: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
        }
        if audience is not None:
            payload["aud"] = audience
        if scopes:
            payload["scope"] = " ".join(scopes)
        payload.update(claims)
        return self.sign({"alg": "RS256", "typ": "JWT", "kid": self.kid}, payload)

    def sign(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"

    def validate(
        self,
        token: str,
        issuer: str,
        audiences: Sequence[str],
        scopes: Sequence[str] = (),
        now: float | None = None,
    ) -> dict[str, Any]:
        """The token's claims, or TokenRejected naming the first check that fails."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenRejected("token contains an invalid number of segments")
        try:
            header = json.loads(_unb64(parts[0]))
            claims = json.loads(_unb64(parts[1]))
            signature = _unb64(parts[2])
        except ValueError:
            raise TokenRejected("the token is malformed") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenRejected("the token is malformed")
        if header.get("alg") != "RS256":
            # Only RSA algorithms are supported; `none` never is.
            raise TokenRejected(f"signing method {header.get('alg')} is invalid")
        if header.get("kid") != self.kid:
            raise TokenRejected("the token's kid matches no key of the issuer's jwks_uri")
        try:
            self.key.public_key().verify(
                signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except InvalidSignature:
            raise TokenRejected("crypto/rsa: verification error") from None
        _check_claims(claims, issuer, audiences, scopes, time.time() if now is None else now)
        return claims


def _check_claims(
    claims: dict[str, Any],
    issuer: str,
    audiences: Sequence[str],
    scopes: Sequence[str],
    now: float,
) -> None:
    if claims.get("iss") != issuer:
        raise TokenRejected("the token does not have a valid issuer")
    audience = claims.get("aud", claims.get("client_id"))
    named = audience if isinstance(audience, list) else [audience]
    if not any(isinstance(a, str) and a in audiences for a in named):
        raise TokenRejected("the token does not have a valid audience")
    for claim in ("exp", "nbf", "iat"):
        if claim in claims and not isinstance(claims[claim], int | float):
            raise TokenRejected(f"the token's {claim} is not a number")
    if "exp" not in claims or claims["exp"] <= now:
        raise TokenRejected("the token has expired")
    if claims.get("nbf", now) > now or claims.get("iat", now) > now:
        raise TokenRejected("the token is not valid yet")
    if scopes:
        held = claims.get("scope", claims.get("scp", ""))
        granted = set(held.split() if isinstance(held, str) else held or [])
        if not granted & set(scopes):
            raise TokenRejected(f"expected scopes: [{' '.join(scopes)}]", insufficient_scope=True)


def write_authorizers(state_dir: Path, authorizers: list[dict[str, Any]]) -> None:
    """Records the deployment's JWT authorizers (issuer, audience) for `modelship local token`."""
    directory = state_dir / ISSUER_DIR
    directory.mkdir(parents=True, exist_ok=True)
    (directory / AUTHORIZERS_FILE).write_text(json.dumps(authorizers, indent=2))


def read_authorizers(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / ISSUER_DIR / AUTHORIZERS_FILE
    found: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    return found


def mint_local_token(
    state_dir: Path,
    audience: str | None = None,
    scopes: Sequence[str] = (),
    issuer: str | None = None,
    lifetime: int = DEFAULT_LIFETIME,
) -> tuple[str, dict[str, Any]]:
    """(token, its authorizer) for the emulator whose state is in `state_dir`: its issuer's key,
    the deployment's JWT authorizer's issuer and (first) audience unless given."""
    authorizers = read_authorizers(state_dir)
    if issuer is None:
        issuers = sorted({a["issuer"] for a in authorizers})
        if len(issuers) != 1:
            raise ValueError(
                "the emulator's deployment has no JWT authorizer: synthesize with -c authMode=jwt"
                if not issuers
                else f"the deployment has several JWT issuers: choose one of {issuers}"
            )
        issuer = issuers[0]
    if audience is None:
        audiences = [aud for a in authorizers if a["issuer"] == issuer for aud in a["audience"]]
        if not audiences:
            raise ValueError(f"no JWT authorizer of issuer {issuer} names an audience: give one")
        audience = audiences[0]
    if not (state_dir / ISSUER_DIR / KEY_FILE).exists():
        raise ValueError(f"no local issuer key in {state_dir}: is the emulator running there?")
    token = LocalIssuer.load_or_create(state_dir).mint(issuer, audience, scopes, lifetime=lifetime)
    return token, {"issuer": issuer, "audience": audience, "scopes": list(scopes)}
