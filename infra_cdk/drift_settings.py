"""The drift monitor's context keys (docs/configuration.md), validated before any construct
is built; a bad value raises SettingsError naming the key.

The monitor runs for a model whose data capture is on (captureSampleRate above 0): without
captured rows it has nothing to judge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra_cdk.settings import SettingsError
from infra_cdk.typed_context import ContextReader, TypedContext
from modelship import names
from modelship.schedule_expressions import (
    InvalidSchedule,
    Rate,
    parse_schedule,
)

DRIFT_DEFAULTS: dict[str, Any] = {
    "driftSchedule": names.DEFAULT_DRIFT_SCHEDULE,
    "driftWindowHours": names.DEFAULT_DRIFT_WINDOW_HOURS,
    "driftPsiThreshold": names.DEFAULT_DRIFT_PSI_THRESHOLD,
    "driftPValue": names.DEFAULT_DRIFT_P_VALUE,
    "driftMinRows": names.DEFAULT_DRIFT_MIN_ROWS,
}
# Keys that configured something since replaced, with what to set instead.
RETIRED_KEYS = {
    "driftThresholdPercent": (
        "the drift alarm no longer counts inputs outside the training range: it reads the "
        "drift monitor's DriftScore (docs/monitoring.md); set 'driftPsiThreshold' (default "
        f"{names.DEFAULT_DRIFT_PSI_THRESHOLD}) instead, and remove 'driftThresholdPercent'"
    ),
}
# CloudWatch: a period x evaluation periods of at most 7 days (1 evaluation period here).
MAX_ALARM_PERIOD_SECONDS = 604_800
CRON_ALARM_PERIOD_SECONDS = 3600
# A PSI above this is not a threshold anyone means (PSI of two disjoint 10-bin histograms
# floored at 1e-4 is about 18).
MAX_PSI_THRESHOLD = 10.0
MAX_MIN_ROWS = 1_000_000


def check_retired(node: ContextReader, where: str = "") -> None:
    for key, replacement in RETIRED_KEYS.items():
        if node.try_get_context(key) is not None:
            raise SettingsError(f"{where}context '{key}' is retired: {replacement}")


@dataclass(frozen=True)
class DriftOptions:
    schedule: str = names.DEFAULT_DRIFT_SCHEDULE
    window_hours: int = names.DEFAULT_DRIFT_WINDOW_HOURS
    psi_threshold: float = names.DEFAULT_DRIFT_PSI_THRESHOLD
    p_value: float = names.DEFAULT_DRIFT_P_VALUE
    min_rows: int = names.DEFAULT_DRIFT_MIN_ROWS

    @classmethod
    def from_context(cls, node: ContextReader) -> DriftOptions:
        ctx = TypedContext(node, DRIFT_DEFAULTS, error=SettingsError, blank_is_default=True)
        schedule = ctx.schedule("driftSchedule")
        p_value = ctx.number("driftPValue", 0, 1)
        if p_value in (0, 1):
            raise SettingsError(
                f"context 'driftPValue' must be above 0 and below 1, got {ctx.raw('driftPValue')!r}"
            )
        psi = ctx.number("driftPsiThreshold", 0, MAX_PSI_THRESHOLD)
        if psi == 0:
            raise SettingsError("context 'driftPsiThreshold' must be above 0, got 0")
        return cls(
            schedule=schedule,
            window_hours=ctx.int("driftWindowHours", 1, names.MAX_DRIFT_WINDOW_HOURS),
            psi_threshold=psi,
            p_value=p_value,
            min_rows=ctx.int("driftMinRows", 1, MAX_MIN_ROWS),
        )

    @property
    def alarm_period_seconds(self) -> int:
        """One run's DriftScore per alarm period: the rate's interval (a whole number of
        minutes, so a valid CloudWatch period) up to CloudWatch's 7 days; an hour for cron."""
        try:
            schedule = parse_schedule(self.schedule)
        except InvalidSchedule:
            return CRON_ALARM_PERIOD_SECONDS
        if isinstance(schedule, Rate):
            return min(int(schedule.interval.total_seconds()), MAX_ALARM_PERIOD_SECONDS)
        return CRON_ALARM_PERIOD_SECONDS

    def environment(self) -> dict[str, str]:
        return {
            names.ENV_DRIFT_WINDOW_HOURS: str(self.window_hours),
            names.ENV_DRIFT_PSI_THRESHOLD: repr(self.psi_threshold),
            names.ENV_DRIFT_P_VALUE: repr(self.p_value),
            names.ENV_DRIFT_MIN_ROWS: str(self.min_rows),
        }
