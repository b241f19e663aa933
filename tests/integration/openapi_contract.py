"""Checks an answer of the predict handler against the OpenAPI document it serves."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator


def assert_documented(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    """The answer's status is documented for the operation and its body matches the schema."""
    operation = document["paths"][path][method.lower()]
    status = str(response["statusCode"])
    assert status in operation["responses"], (status, sorted(operation["responses"]))
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": document["components"]})
    body = json.loads(response["body"])
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, (status, errors, response["body"][:500])
