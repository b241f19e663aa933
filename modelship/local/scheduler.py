"""Scheduled EventBridge rules for the local emulator: moto stores a rule's ScheduleExpression
but never fires it.

Every ENABLED rule with a schedule fires on an emulated clock that starts at the emulator's
start and runs `time_scale` times faster than real time, so `rate(1 hour)` fires every 2
minutes at `--time-scale 30` and `cron(...)` fires at the emulated minutes it names. The
event is the one EventBridge sends ("Scheduled Event" from aws.events, the rule's ARN as the
resource, an empty detail, the scheduled time as `time`), delivered to the rule's targets
like any other event (modelship.local.eventbridge: IAM-checked). A rule whose expression
the emulator cannot compute (the L, W and # cron wildcards) is named once as an advisory
and never fires, rather than firing at the wrong times. After a stall (a suspended laptop),
a rule fires once for the missed times, not once per missed time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from modelship.schedule_expressions import InvalidSchedule, Schedule, parse_schedule

SCHEDULED_EVENT = "Scheduled Event"
# Delivers a fired rule's event to its targets (EventBridgeDelivery.deliver).
Deliver = Callable[[Any, dict[str, Any]], object]
Recorder = Callable[[str, dict[str, Any]], None]


def scheduled_event(rule_arn: str, moment: datetime, region: str, account: str) -> dict[str, Any]:
    """The event EventBridge sends to a scheduled rule's targets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": SCHEDULED_EVENT,
        "source": "aws.events",
        "account": account,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class EmulatedClock:
    """Wall-clock time that runs `time_scale` times faster from the moment it is made."""

    def __init__(
        self,
        time_scale: float,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.time_scale = time_scale
        self.start = start or datetime.now(UTC)
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        elapsed = (self._monotonic() - self._origin) * self.time_scale
        return self.start + timedelta(seconds=elapsed)


@dataclass
class _Scheduled:
    expression: str
    schedule: Schedule
    next_fire: datetime | None


class Scheduler:
    """Fires the scheduled rules that `rules()` lists (moto's Rule objects: name, arn, state,
    scheduled_expression) when the emulated clock passes their next time."""

    def __init__(
        self,
        rules: Callable[[], Iterable[Any]],
        deliver: Deliver,
        record: Recorder,
        clock: EmulatedClock,
        region: str = "us-east-1",
        account: str = "123456789012",
    ) -> None:
        self.rules = rules
        self.deliver = deliver
        self.record = record
        self.clock = clock
        self.region = region
        self.account = account
        self._scheduled: dict[str, _Scheduled] = {}
        self._refused: dict[str, str] = {}

    def tick(self) -> list[str]:
        """Fires every rule that is due; returns their names."""
        now = self.clock.now()
        fired = []
        for rule in self._scheduled_rules():
            entry = self._entry(rule, now)
            if entry is None or entry.next_fire is None or entry.next_fire > now:
                continue
            moment = entry.next_fire
            entry.next_fire = _next_after_now(entry.schedule, moment, now)
            self.record(
                "schedule-fired",
                {"rule": rule.name, "expression": entry.expression, "time": moment.isoformat()},
            )
            self.deliver(rule, scheduled_event(str(rule.arn), moment, self.region, self.account))
            fired.append(str(rule.name))
        return fired

    def _scheduled_rules(self) -> list[Any]:
        return [
            rule
            for rule in self.rules()
            if getattr(rule, "scheduled_expression", None) and rule.state == "ENABLED"
        ]

    def _entry(self, rule: Any, now: datetime) -> _Scheduled | None:
        """The rule's schedule, computed when first seen (or when its expression changed)."""
        arn, expression = str(rule.arn), str(rule.scheduled_expression)
        entry = self._scheduled.get(arn)
        if entry is not None and entry.expression == expression:
            return entry
        if self._refused.get(arn) == expression:
            return None
        try:
            schedule = parse_schedule(expression)
        except InvalidSchedule as exc:
            self._refused[arn] = expression
            self.record(
                "deploy-advisory",
                {"finding": f"rule {rule.name}: {exc}; it never fires on the local emulator"},
            )
            return None
        # A rate runs from when the rule is created; a cron from its next named minute.
        entry = _Scheduled(expression, schedule, schedule.next_after(now))
        self._scheduled[arn] = entry
        return entry

    def advisories(self) -> None:
        """Names every scheduled rule that will not fire (at start, with the deploy)."""
        now = self.clock.now()
        for rule in self._scheduled_rules():
            self._entry(rule, now)


def _next_after_now(schedule: Schedule, fired: datetime, now: datetime) -> datetime | None:
    """The first time after `now` (one firing covers the times missed in a stall)."""
    following = schedule.next_after(fired)
    while following is not None and following <= now:
        following = schedule.next_after(following)
    return following
