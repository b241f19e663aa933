"""Model version ids: sortable by time (UTC timestamp plus a short random suffix)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from modelship.errors import InvalidVersion

# fullmatch, never match with `$`: `$` also matches before a trailing newline ("v1\n").
_VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_RESERVED = {"latest"}


def new_version_id(now: datetime | None = None) -> str:
    """e.g. 20261127T041500Z-3fa9c1: lexical order is creation order (to the second)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def check_version_id(version: str) -> str:
    """A user-given version string: 1-64 of [A-Za-z0-9._-], starting alphanumeric."""
    if version.lower() in _RESERVED or not _VALID.fullmatch(version):
        raise InvalidVersion(
            f"invalid model version {version!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (and not 'latest')"
        )
    return version


def check_model_name(name: str) -> str:
    if not _VALID.fullmatch(name):
        raise InvalidVersion(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
        )
    return name
