"""EventBridge schedule expressions, parsed as EventBridge reads them, and their next fire time.

`rate(value unit)`: a positive whole number and minute(s), hour(s) or day(s), singular for 1
and plural otherwise. `cron(minutes hours day-of-month month day-of-week year)`: six fields in
UTC, each `*`, a value, a range `a-b`, a step `*/n`, `a/n` or `a-b/n`, or a comma list of
these; months JAN-DEC, days of the week 1-7 = SUN-SAT; exactly one of day-of-month and
day-of-week is `?` (EventBridge user guide, "Cron expressions reference" and "Rate
expressions"). The last-day (`L`), weekday (`W`) and nth-weekday (`#`) wildcards are valid on
AWS but not computed here: they raise `UnsupportedSchedule`, so the emulator names the rule
instead of firing it at the wrong times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_RATE = re.compile(r"rate\((\d+) +(minutes?|hours?|days?)\)")
_CRON = re.compile(r"cron\((.*)\)")
_UNITS = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# (name, lowest, highest, names of the values from `lowest` on)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minutes", 0, 59, ()),
    ("hours", 0, 23, ()),
    ("day-of-month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 1, 7, _WEEKDAYS),
    ("year", 1970, 2199, ()),
)
_DAY_FIELDS = ("day-of-month", "day-of-week")
_ITEM = re.compile(r"(\*|[0-9A-Z]+)(?:-([0-9A-Z]+))?(?:/(\d+))?")


class InvalidSchedule(ValueError):
    """An expression EventBridge would refuse; the message says what is wrong."""


class UnsupportedSchedule(InvalidSchedule):
    """A valid expression the emulator does not compute (L, W, #, a wrapping range)."""


@dataclass(frozen=True)
class Rate:
    interval: timedelta

    def next_after(self, moment: datetime) -> datetime | None:
        return moment + self.interval


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None  # None: `?`, the day of the week decides
    months: frozenset[int]
    weekdays: frozenset[int] | None  # 1 = Sunday; None: `?`
    years: frozenset[int]

    def next_after(self, moment: datetime) -> datetime | None:
        """The first minute strictly after `moment` the expression names (None: never)."""
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        last_year = max(self.years)
        while at.year <= last_year:
            if at.year not in self.years:
                at = datetime(at.year + 1, 1, 1, tzinfo=UTC)
            elif at.month not in self.months:
                at = _first_of_next_month(at)
            elif not self._day_matches(at):
                at = datetime(at.year, at.month, at.day, tzinfo=UTC) + timedelta(days=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0) + timedelta(hours=1)
            elif at.minute not in self.minutes:
                at += timedelta(minutes=1)
            else:
                return at
        return None

    def _day_matches(self, at: datetime) -> bool:
        if self.days is not None:
            return at.day in self.days
        assert self.weekdays is not None
        return (at.weekday() + 1) % 7 + 1 in self.weekdays


Schedule = Rate | Cron


def parse_schedule(expression: str) -> Schedule:
    """The schedule of a rule's ScheduleExpression; InvalidSchedule names what is wrong."""
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1:
            raise InvalidSchedule(f"{expression}: the rate must be a positive number")
        if (value == 1) == unit.endswith("s"):
            form = "singular" if value == 1 else "plural"
            raise InvalidSchedule(f"{expression}: the unit must be {form} for {value}")
        return Rate(timedelta(seconds=value * _UNITS[unit.rstrip("s")]))
    cron = _CRON.fullmatch(expression)
    if not cron:
        raise InvalidSchedule(f"{expression!r} is neither rate(value unit) nor cron(six fields)")
    fields = cron.group(1).split()
    if len(fields) != len(_FIELDS):
        raise InvalidSchedule(f"{expression}: cron takes 6 fields, got {len(fields)}")
    parsed = [
        None if text == "?" and spec[0] in _DAY_FIELDS else _field(expression, text, spec)
        for text, spec in zip(fields, _FIELDS, strict=True)
    ]
    days, weekdays = parsed[2], parsed[4]
    if (days is None) == (weekdays is None):
        raise InvalidSchedule(
            f"{expression}: exactly one of day-of-month and day-of-week must be '?'"
        )
    minutes, hours, months, years = (
        value or frozenset() for value in (parsed[0], parsed[1], parsed[3], parsed[5])
    )
    return Cron(minutes, hours, days, months, weekdays, years)


def _field(
    expression: str, text: str, spec: tuple[str, int, int, tuple[str, ...]]
) -> frozenset[int]:
    name, low, high, labels = spec
    if text == "?":
        raise InvalidSchedule(f"{expression}: '?' is allowed only in the day fields")
    if any(mark in text for mark in ("L", "W", "#")) and not _only_labels(text, labels):
        raise UnsupportedSchedule(
            f"{expression}: the L, W and # wildcards ({name} {text!r}) are not emulated"
        )
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if not match:
            raise InvalidSchedule(f"{expression}: {name} {item!r} is not a value, range or step")
        first, last, step = match.groups()
        if first == "*":
            if last is not None:
                raise InvalidSchedule(f"{expression}: {name} {item!r}: '*' takes no range")
            start, end = low, high
        else:
            start = _value(expression, name, first, low, high, labels)
            end = _value(expression, name, last, low, high, labels) if last else start
            if step and not last:
                end = high
        if end < start:
            raise UnsupportedSchedule(
                f"{expression}: {name} {item!r} wraps around, which is not emulated"
            )
        increment = int(step) if step else 1
        if increment < 1:
            raise InvalidSchedule(f"{expression}: {name} {item!r}: the step must be positive")
        values.update(range(start, end + 1, increment))
    return frozenset(values)


def _only_labels(text: str, labels: tuple[str, ...]) -> bool:
    """True when every L or W in `text` belongs to a month or weekday name (JUL, WED)."""
    words = re.findall(r"[A-Z]+", text)
    return "#" not in text and all(word in labels for word in words)


def _value(
    expression: str, name: str, text: str, low: int, high: int, labels: tuple[str, ...]
) -> int:
    if text in labels:
        return low + labels.index(text)
    if not text.isdigit():
        raise InvalidSchedule(f"{expression}: {name} {text!r} is not a number")
    value = int(text)
    if not low <= value <= high:
        raise InvalidSchedule(f"{expression}: {name} {value} is outside {low}-{high}")
    return value


def _first_of_next_month(at: datetime) -> datetime:
    if at.month == 12:
        return datetime(at.year + 1, 1, 1, tzinfo=UTC)
    return datetime(at.year, at.month + 1, 1, tzinfo=UTC)
