"""Small queries over synthesized templates shared by the infra tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk.assertions import Template

from tests.synthesis import Synthesized as Synthesized
from tests.synthesis import synthesized as synthesized

Synth = Callable[..., Template]


def only(template: Template, resource_type: str) -> tuple[str, dict[str, Any]]:
    resources = template.find_resources(resource_type)
    assert len(resources) == 1, f"expected one {resource_type}, found {list(resources)}"
    return next(iter(resources.items()))


def logical_id(template: Template, resource_type: str) -> str:
    return only(template, resource_type)[0]


def logical_id_starting(template: Template, resource_type: str, prefix: str) -> str:
    matches = [name for name in template.find_resources(resource_type) if name.startswith(prefix)]
    assert len(matches) == 1, f"expected one {resource_type} named {prefix}*, found {matches}"
    return matches[0]
