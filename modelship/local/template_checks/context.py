"""What every rule works with: the template, the worst-case names and the findings so far,
and the shapes of check the services share (a name, a number in range, a length)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.local.template_checks.findings import Finding, Validation
from modelship.local.template_checks.worst_case import WorstCase


@dataclass
class Context:
    template: Mapping[str, Any]
    resources: Mapping[str, Any]
    worst: WorstCase
    cdk_out: Path | None
    validation: Validation

    def refuse(self, rule: str, logical: str, prop: str, value: Any, limit: str) -> None:
        self.validation.refusals.append(Finding(rule, logical, prop, value, limit))

    def advise(self, rule: str, logical: str, prop: str, value: Any, limit: str) -> None:
        self.validation.advisories.append(Finding(rule, logical, prop, value, limit))

    def text(self, raw: Any) -> str | None:
        """A string property as deployed (worst case for generated names), or None."""
        if raw is None:
            return None
        value = self.worst.value(raw)
        return value if isinstance(value, str) else str(value)

    def name(
        self,
        rule: str,
        logical: str,
        prop: str,
        raw: Any,
        limit: tuple[int, re.Pattern[str]],
        what: str,
    ) -> None:
        value = self.text(raw)
        if value is None:
            return
        maximum, pattern = limit
        built = "" if isinstance(raw, str) else " (generated names at their longest)"
        if not 1 <= len(value) <= maximum:
            self.refuse(
                rule,
                logical,
                prop,
                value,
                f"{what} is {len(value)} characters{built}, AWS allows 1-{maximum}",
            )
        elif not pattern.fullmatch(value):
            self.refuse(rule, logical, prop, value, f"{what} must match {pattern.pattern}")

    def in_range(
        self, rule: str, logical: str, prop: str, raw: Any, bounds: tuple[int, int], what: str
    ) -> None:
        if raw is None:
            return
        value = number(raw)
        low, high = bounds
        if value is None or not low <= value <= high:
            self.refuse(rule, logical, prop, raw, f"{what} must be {low}-{high}")

    def at_most(
        self,
        rule: str,
        logical: str,
        prop: str,
        raw: Any,
        maximum: int,
        *,
        length_only: bool = False,
    ) -> None:
        """A text property of at most `maximum` characters; a finding shows the text, or for
        a document (`length_only`) its length."""
        if isinstance(raw, str) and len(raw) > maximum:
            shown = f"{len(raw)} characters" if length_only else raw
            self.refuse(rule, logical, prop, shown, f"at most {maximum} characters")

    def retry_policy(
        self,
        rule: str,
        logical: str,
        prefix: str,
        policy: Mapping[str, Any],
        attempts: tuple[int, int],
        event_age: tuple[int, int],
    ) -> None:
        """MaximumRetryAttempts and MaximumEventAgeInSeconds of an asynchronous delivery."""
        self.in_range(
            rule,
            logical,
            f"{prefix}MaximumRetryAttempts",
            policy.get("MaximumRetryAttempts"),
            attempts,
            "retry attempts",
        )
        self.in_range(
            rule,
            logical,
            f"{prefix}MaximumEventAgeInSeconds",
            policy.get("MaximumEventAgeInSeconds"),
            event_age,
            "the event age (s)",
        )


Rule = Callable[[Context, str, Mapping[str, Any]], None]


def number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None
