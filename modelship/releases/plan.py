"""The rollout plan: the one grammar the CLI, the runtime and the CDK app read.

A plan is text like `5:5m,25:10m,100`: route 5% of the alias to the candidate and bake
5 minutes, then 25% for 10 minutes, then promote. The grammar:

    plan   = step { "," step } "," final
    step   = weight ":" bake          e.g. 5:5m, 12.5%:90s, 50%:1.5h
    final  = "100" | "100%"           promote
    weight = digits [ "." digits ] [ "%" ]        a percentage
    bake   = digits [ "." digits ] unit           unit: ms, s, m or h

- Weights are percentages, `%` optional; after rounding to `names.WEIGHT_DECIMALS` as a
  fraction (four decimals of a percent) each must lie strictly between 0 and 100 and be
  greater than the step before. At least one canary step comes before the final 100.
- A bake time needs its unit: `50:90` could mean seconds or minutes, so it is refused.
  A fraction is fine when it comes to whole seconds (`1.5m` is 90 s); `0.5s` or `1500ms`
  is refused rather than rounded, because Step Functions waits whole seconds.
- The bakes together last at most a year: no Standard workflow execution (nor the release
  state machine's timeout, `releaseTimeoutHours` <= 8760) runs longer.
- Blanks around items are ignored; an empty item (`5:5m,,100`) is skipped.

The state machines read the plan as a JSON list of `PlanStep.as_input()` (`steps` in the
execution input, `RELEASE_PLAN` in the retraining functions' environment);
`steps_from_input` checks that form by the same rules.

Standard library only: the CDK app imports this module without scikit-learn or boto3.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from modelship import names
from modelship.errors import InvalidRolloutPlan, InvalidWeight

__all__ = [
    "MAX_PLAN_BAKE_SECONDS",
    "InvalidRolloutPlan",
    "PlanStep",
    "format_plan",
    "parse_duration",
    "parse_plan",
    "parse_weight",
    "steps_from_input",
]

MAX_PLAN_BAKE_SECONDS = 365 * 24 * 3600
_NUMBER = r"\d+(?:\.\d+)?"
_WEIGHT = re.compile(rf"({_NUMBER})%?")
_BAKE = re.compile(rf"({_NUMBER})(ms|s|m|h)?")
_FINAL = re.compile(r"100%?")
_UNIT_MILLISECONDS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
_EXAMPLE = "e.g. 5:5m,25:10m,100"


@dataclass(frozen=True)
class PlanStep:
    """One canary step: route `weight` (a fraction, 0 < weight < 1) to the candidate and
    bake `bake_seconds` before the guardrails are checked."""

    weight: float
    bake_seconds: int

    def as_input(self) -> dict[str, float]:
        """The step as the state machines read it (`$.steps[*]`)."""
        return {"weight": self.weight, "bake_seconds": self.bake_seconds}

    @classmethod
    def from_input(cls, raw: object) -> PlanStep:
        """A step from execution input or `RELEASE_PLAN` JSON, checked like a parsed one."""
        if not isinstance(raw, Mapping) or set(raw) != {"weight", "bake_seconds"}:
            raise InvalidRolloutPlan(
                f"step {raw!r} must be an object with exactly weight and bake_seconds"
            )
        weight, bake = raw["weight"], raw["bake_seconds"]
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidRolloutPlan(f"step {raw!r}: weight must be a number")
        if (
            isinstance(bake, bool)
            or not isinstance(bake, int | float)
            or not math.isfinite(bake)
            or bake != int(bake)
            or bake < 0
        ):
            raise InvalidRolloutPlan(f"step {raw!r}: bake_seconds must be a whole number >= 0")
        rounded = round(float(weight), names.WEIGHT_DECIMALS)
        if not 0 < rounded < 1:
            raise InvalidRolloutPlan(
                f"step {raw!r}: weight must be between 0 and 1 exclusive "
                f"(to {names.WEIGHT_DECIMALS} decimals)"
            )
        return cls(rounded, int(bake))


def parse_plan(text: str, *, name: str = "plan") -> tuple[PlanStep, ...]:
    """`5:5m,25:10m,100` -> the canary steps; the final 100 (promote) is implied by the state
    machine. `name` says where the text came from in error messages (e.g. `releasePlan`)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not _FINAL.fullmatch(parts[-1]):
        raise InvalidRolloutPlan(f"{name} {text!r} must end with 100 (promote), {_EXAMPLE}")
    steps: list[PlanStep] = []
    for part in parts[:-1]:
        weight_text, sep, bake_text = (p.strip() for p in part.partition(":"))
        if not sep:
            raise InvalidRolloutPlan(f"{name} step {part!r} needs a bake time, e.g. {part}:5m")
        weight = _step_weight(weight_text, f"{name} step {part!r}")
        if steps and weight <= steps[-1].weight:
            raise InvalidRolloutPlan(
                f"{name} step {part!r}: weights must increase step by step "
                f"({steps[-1].weight * 100:g}% before it)"
            )
        steps.append(PlanStep(weight, parse_duration(bake_text, where=f"{name} step {part!r}")))
    if not steps:
        raise InvalidRolloutPlan(f"{name} {text!r} has no canary step before 100, {_EXAMPLE}")
    _check_total(steps, f"{name} {text!r}")
    return tuple(steps)


def steps_from_input(raw: object, *, name: str = "steps") -> tuple[PlanStep, ...]:
    """A plan as the state machines carry it: a JSON list of `{"weight", "bake_seconds"}`."""
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidRolloutPlan(f"{name} must be a non-empty list of canary steps")
    steps: list[PlanStep] = []
    for index, item in enumerate(raw):
        try:
            step = item if isinstance(item, PlanStep) else PlanStep.from_input(item)
        except InvalidRolloutPlan as exc:
            raise InvalidRolloutPlan(f"{name}[{index}]: {exc}") from None
        if steps and step.weight <= steps[-1].weight:
            raise InvalidRolloutPlan(f"{name}[{index}]: weights must increase step by step")
        steps.append(step)
    _check_total(steps, name)
    return tuple(steps)


def format_plan(steps: Iterable[PlanStep]) -> str:
    """`5% for 300s, 25% for 600s, then promote`."""
    return ", ".join(f"{s.weight:.0%} for {s.bake_seconds}s" for s in steps) + ", then promote"


def parse_duration(text: str, *, where: str = "plan step") -> int:
    """`30s`, `5m`, `1.5h`, `2000ms` -> whole seconds."""
    raw = text.strip()
    match = _BAKE.fullmatch(raw)
    if not match:
        raise InvalidRolloutPlan(f"{where}: bake time {raw!r} is not like 30s, 5m or 1h")
    number, unit = match.groups()
    if unit is None:
        raise InvalidRolloutPlan(
            f"{where}: bake time {raw!r} needs a unit: {raw}s, {raw}m or {raw}h"
        )
    seconds = Fraction(number) * _UNIT_MILLISECONDS[unit] / 1000
    if seconds.denominator != 1:
        raise InvalidRolloutPlan(
            f"{where}: bake time {raw!r} is not a whole number of seconds "
            "(Step Functions waits whole seconds)"
        )
    return int(seconds)


def parse_weight(text: str) -> float:
    """A canary weight as `canary start --weight` takes it: `0.05` or `5%` -> 0.05. A bare
    number above 1 is refused: it is ambiguous. (In a plan, weights are percentages.)"""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise InvalidWeight(f"weight {text!r} is not a number like 0.05 or 5%") from None
    if not raw.endswith("%") and value > 1:
        raise InvalidWeight(f"weight {text!r} is ambiguous: write {raw}% or {value / 100:g}")
    return value


def _step_weight(text: str, where: str) -> float:
    match = _WEIGHT.fullmatch(text)
    if not match:
        raise InvalidRolloutPlan(f"{where}: {text!r} is not a percentage like 5 or 12.5%")
    # Checked after rounding: 99.99999 would otherwise become a 100% "canary".
    weight = round(float(match.group(1)) / 100, names.WEIGHT_DECIMALS)
    if not 0 < weight < 1:
        raise InvalidRolloutPlan(
            f"{where}: the weight must be between 0 and 100 exclusive "
            f"(to {names.WEIGHT_DECIMALS - 2} decimals)"
        )
    return weight


def _check_total(steps: list[PlanStep], where: str) -> None:
    total = sum(s.bake_seconds for s in steps)
    if total > MAX_PLAN_BAKE_SECONDS:
        raise InvalidRolloutPlan(
            f"{where} bakes {total} s in all, more than a year: no rollout can run that long"
        )
