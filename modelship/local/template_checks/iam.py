"""IAM roles: the names and paths CreateRole accepts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

# IAM API reference, CreateRole: RoleName 1-64 [\w+=,.@-]+; Path 1-512, "/" or "/.../".
ROLE_NAME = (64, re.compile(r"[\w+=,.@-]+"))
ROLE_PATH = (512, re.compile(r"/|/[\x21-\x7e]+/"))


def _role(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("iam-role-name", logical, "RoleName", props.get("RoleName"), ROLE_NAME, "a role name")
    ctx.name("iam-role-path", logical, "Path", props.get("Path"), ROLE_PATH, "a role path")


RULES: dict[str, Rule] = {"AWS::IAM::Role": _role}
