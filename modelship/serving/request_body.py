"""The raw predict body as API Gateway delivers it, decoded before it is parsed.

An HTTP API base64-encodes every body whose content type is not text (JSON sent by
`curl -d` as `application/x-www-form-urlencoded`, or as `application/octet-stream`, arrives
that way), so a base64 body is decoded here and anything that is not base64 of UTF-8 text
is a typed 400 instead of an exception.
"""

from __future__ import annotations

import base64
import binascii

from modelship.errors import PayloadTooLarge, UndecodableBody


def decode_body(body: str | None, base64_encoded: bool, max_body_bytes: int) -> str:
    """The body's text; for a base64 body, its size is checked before it is decoded."""
    if not body:
        return ""
    if not base64_encoded:
        return body
    # Four base64 characters per three bytes: no need to decode a body that is too large.
    if len(body) > (max_body_bytes + 2) // 3 * 4:
        raise PayloadTooLarge(
            f"base64 body of {len(body)} characters exceeds {max_body_bytes} bytes",
            reason="body_too_large",
        )
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise UndecodableBody(
            "body is flagged base64 but is not", reason="invalid_base64"
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UndecodableBody("base64 body is not UTF-8 text", reason="body_not_utf8") from None
