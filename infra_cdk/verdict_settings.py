"""The canary verdict's context keys (docs/configuration.md), validated before any construct
is built; a bad value raises SettingsError naming the key.

They reach the release task function as its VERDICT_* environment, which
`modelship.releases.settings.ReleaseSettings` validates again by the same bounds (in
`modelship.names`). The synth also checks that the state machines' timeouts leave room for
the verdict's extensions: a rollout that times out mid-extension is rolled back by the
rollback function, but only after the timeout, and with a cause that names no check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra_cdk.settings import SettingsError
from infra_cdk.typed_context import ContextReader, TypedContext
from modelship import names

VERDICT_DEFAULTS: dict[str, Any] = {
    "verdictAlpha": names.DEFAULT_VERDICT_ALPHA,
    "verdictMinRequests": names.DEFAULT_VERDICT_MIN_REQUESTS,
    "verdictErrorMarginPercent": names.DEFAULT_VERDICT_ERROR_MARGIN_PERCENT,
    "verdictLatencyTolerancePercent": names.DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT,
    "verdictScoreShiftMax": names.DEFAULT_VERDICT_SCORE_SHIFT_MAX,
    "verdictExtensionSeconds": names.DEFAULT_VERDICT_EXTENSION_SECONDS,
    "verdictMaxExtensions": names.DEFAULT_VERDICT_MAX_EXTENSIONS,
    "verdictOnInconclusive": names.DEFAULT_VERDICT_ON_INCONCLUSIVE,
}
# What a step costs besides its bake and extensions: the tasks around it (each with a
# two-minute task timeout) and their retries. Generous on purpose: the check is against
# running out of time, not a schedule.
STEP_OVERHEAD_SECONDS = 5 * 60


@dataclass(frozen=True)
class VerdictOptions:
    alpha: float = names.DEFAULT_VERDICT_ALPHA
    min_requests: int = names.DEFAULT_VERDICT_MIN_REQUESTS
    error_margin_percent: float = names.DEFAULT_VERDICT_ERROR_MARGIN_PERCENT
    latency_tolerance_percent: float = names.DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT
    score_shift_max: float = names.DEFAULT_VERDICT_SCORE_SHIFT_MAX
    extension_seconds: int = names.DEFAULT_VERDICT_EXTENSION_SECONDS
    max_extensions: int = names.DEFAULT_VERDICT_MAX_EXTENSIONS
    on_inconclusive: str = names.DEFAULT_VERDICT_ON_INCONCLUSIVE

    @classmethod
    def from_context(cls, node: ContextReader) -> VerdictOptions:
        ctx = TypedContext(node, VERDICT_DEFAULTS, error=SettingsError, blank_is_default=True)
        alpha = ctx.number("verdictAlpha", 0, names.MAX_VERDICT_ALPHA)
        if alpha == 0:
            raise SettingsError(
                "context 'verdictAlpha' must be above 0 (a test at level 0 never finds a "
                f"candidate worse), at most {names.MAX_VERDICT_ALPHA:g}; got 0"
            )
        margin = ctx.number("verdictErrorMarginPercent", 0, 100)
        if margin == 100:
            raise SettingsError(
                "context 'verdictErrorMarginPercent' must be below 100: no candidate could "
                "fail the errors check"
            )
        shift = ctx.number("verdictScoreShiftMax", 0, 1)
        if shift == 1:
            raise SettingsError(
                "context 'verdictScoreShiftMax' must be below 1 (a KS distance is at most 1, "
                "so no candidate could fail the scores check)"
            )
        return cls(
            alpha=alpha,
            min_requests=ctx.int("verdictMinRequests", 1, names.MAX_VERDICT_MIN_REQUESTS),
            error_margin_percent=margin,
            latency_tolerance_percent=ctx.number(
                "verdictLatencyTolerancePercent", 0, names.MAX_VERDICT_LATENCY_TOLERANCE_PERCENT
            ),
            score_shift_max=shift,
            extension_seconds=_extension_seconds(ctx),
            max_extensions=ctx.int("verdictMaxExtensions", 0, names.MAX_VERDICT_MAX_EXTENSIONS),
            on_inconclusive=ctx.choice(
                "verdictOnInconclusive", names.VERDICT_ON_INCONCLUSIVE_CHOICES
            ),
        )

    @property
    def extensions_seconds(self) -> int:
        """The longest a step's verdict can extend its bake."""
        return self.extension_seconds * self.max_extensions

    def worst_case_seconds(self, plan: Iterable[Mapping[str, float]]) -> int:
        """The longest a rollout of `plan` can run: every bake, every extension of every
        step, and each step's tasks."""
        steps = list(plan)
        bakes = sum(int(step["bake_seconds"]) for step in steps)
        return bakes + len(steps) * (self.extensions_seconds + STEP_OVERHEAD_SECONDS)

    def check_release_timeout(self, release_timeout_hours: int) -> None:
        """The release state machine runs any plan given at start; whatever the plan, one
        step with all its extensions must fit in its timeout."""
        one_step = self.extensions_seconds + STEP_OVERHEAD_SECONDS
        if one_step > release_timeout_hours * 3600:
            raise SettingsError(
                f"context 'releaseTimeoutHours' ({release_timeout_hours} h) does not cover "
                f"the verdict extensions of a single step: 'verdictMaxExtensions' "
                f"({self.max_extensions}) x 'verdictExtensionSeconds' "
                f"({self.extension_seconds} s) plus {STEP_OVERHEAD_SECONDS // 60} min of tasks "
                f"is {_hours(one_step)}: raise 'releaseTimeoutHours' or allow fewer or shorter "
                "extensions"
            )

    def check_plan(self, key: str, plan: Iterable[Mapping[str, float]], hours: int) -> None:
        """`plan` (the context key `key`), with every extension, within `hours`."""
        worst = self.worst_case_seconds(plan)
        if worst > hours * 3600:
            raise SettingsError(
                f"context '{key}' with every verdict extension ('verdictMaxExtensions' "
                f"{self.max_extensions} x 'verdictExtensionSeconds' {self.extension_seconds} s "
                f"per step) can run {_hours(worst)}, longer than the {hours} h its state "
                "machine leaves for the rollout: shorten the plan or allow fewer or shorter "
                "extensions"
            )

    def environment(self) -> dict[str, str]:
        """The release task function's VERDICT_* variables."""
        return {
            names.ENV_VERDICT_ALPHA: repr(self.alpha),
            names.ENV_VERDICT_MIN_REQUESTS: str(self.min_requests),
            names.ENV_VERDICT_ERROR_MARGIN_PERCENT: repr(self.error_margin_percent),
            names.ENV_VERDICT_LATENCY_TOLERANCE_PERCENT: repr(self.latency_tolerance_percent),
            names.ENV_VERDICT_SCORE_SHIFT_MAX: repr(self.score_shift_max),
            names.ENV_VERDICT_EXTENSION_SECONDS: str(self.extension_seconds),
            names.ENV_VERDICT_MAX_EXTENSIONS: str(self.max_extensions),
            names.ENV_VERDICT_ON_INCONCLUSIVE: self.on_inconclusive,
        }


def _extension_seconds(ctx: TypedContext) -> int:
    key = "verdictExtensionSeconds"
    value = ctx.int(key, 1, names.MAX_VERDICT_EXTENSION_SECONDS)
    if value < names.MIN_VERDICT_EXTENSION_SECONDS:
        raise SettingsError(
            f"context '{key}' must be at least {names.MIN_VERDICT_EXTENSION_SECONDS} s, got "
            f"{value}: the predict function's metrics have one datapoint a minute, so a "
            "shorter extension gives the verdict no new data"
        )
    return value


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:.3g} h"
