"""EventBridge rules and their targets: names, ids, input size and retry policies."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

# EventBridge API reference, PutRule: Name 1-64 [\.\-_A-Za-z0-9]+; PutTargets: Id likewise,
# Input at most 8192, RetryPolicy MaximumRetryAttempts 0-185, MaximumEventAgeInSeconds
# 60-86400. EventBridge quotas: 5 targets per rule.
RULE_NAME = (64, re.compile(r"[.\-_A-Za-z0-9]+"))
TARGET_ID = RULE_NAME
TARGET_INPUT_MAX = 8192
TARGETS_PER_RULE = 5
RULE_RETRY_ATTEMPTS = (0, 185)
RULE_EVENT_AGE = (60, 86_400)


def _rule(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name("events-rule-name", logical, "Name", props.get("Name"), RULE_NAME, "a rule name")
    targets = props.get("Targets") or []
    if len(targets) > TARGETS_PER_RULE:
        ctx.refuse(
            "events-targets",
            logical,
            "Targets",
            len(targets),
            f"at most {TARGETS_PER_RULE} targets per rule",
        )
    for index, target in enumerate(targets):
        ctx.name(
            "events-targets",
            logical,
            f"Targets[{index}].Id",
            target.get("Id"),
            TARGET_ID,
            "a target id",
        )
        ctx.at_most(
            "events-targets",
            logical,
            f"Targets[{index}].Input",
            target.get("Input"),
            TARGET_INPUT_MAX,
            length_only=True,
        )
        ctx.retry_policy(
            "events-targets",
            logical,
            f"Targets[{index}].RetryPolicy.",
            target.get("RetryPolicy") or {},
            RULE_RETRY_ATTEMPTS,
            RULE_EVENT_AGE,
        )


RULES: dict[str, Rule] = {"AWS::Events::Rule": _rule}
