"""EventBridge schedule expressions: what parses, what is refused, and when each fires next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from modelship.schedule_expressions import (
    Cron,
    InvalidSchedule,
    Rate,
    UnsupportedSchedule,
    parse_schedule,
)

T0 = datetime(2026, 3, 14, 10, 7, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43_200),
        ("rate(1 day)", 86_400),
        ("rate(7 days)", 604_800),
    ],
)
def test_a_rate_is_its_interval(expression: str, seconds: int) -> None:
    schedule = parse_schedule(expression)

    assert schedule == Rate(timedelta(seconds=seconds))
    assert schedule.next_after(T0) == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("expression", "complaint"),
    [
        ("rate(1 hours)", "singular"),
        ("rate(5 minute)", "plural"),
        ("rate(0 minutes)", "positive"),
        ("rate(1 week)", "neither"),
        ("every hour", "neither"),
        ("cron(0 10 * * ?)", "6 fields"),
        ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 10 * * ? *)", "minutes 60 is outside 0-59"),
        ("cron(0 24 * * ? *)", "hours 24 is outside 0-23"),
        ("cron(0 10 0 * ? *)", "day-of-month 0 is outside 1-31"),
        ("cron(0 10 ? * 8 *)", "day-of-week 8 is outside 1-7"),
        ("cron(0 10 * FOO ? *)", "month 'FOO' is not a number"),
        ("cron(? 10 * * ? *)", "only in the day fields"),
        ("cron(0/0 10 * * ? *)", "step must be positive"),
        ("cron(*-5 10 * * ? *)", "'*' takes no range"),
    ],
)
def test_what_eventbridge_refuses_is_refused_with_the_reason(
    expression: str, complaint: str
) -> None:
    with pytest.raises(InvalidSchedule, match=complaint.replace("?", r"\?")):
        parse_schedule(expression)


@pytest.mark.parametrize(
    "expression",
    ["cron(0 10 L * ? *)", "cron(0 10 15W * ? *)", "cron(0 10 ? * 6L *)", "cron(0 10 ? * 3#2 *)"],
)
def test_last_weekday_and_nth_wildcards_are_valid_but_not_emulated(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule, match="not emulated"):
        parse_schedule(expression)


def test_a_wrapping_range_is_not_emulated_rather_than_misread() -> None:
    with pytest.raises(UnsupportedSchedule, match="wraps around"):
        parse_schedule("cron(0 22-2 * * ? *)")


def test_month_and_weekday_names_holding_l_or_w_are_names_not_wildcards() -> None:
    schedule = parse_schedule("cron(0 3 ? JUL WED *)")

    assert isinstance(schedule, Cron)
    assert schedule.months == frozenset({7})
    assert schedule.weekdays == frozenset({4})


def test_cron_fields_read_lists_ranges_and_steps() -> None:
    schedule = parse_schedule("cron(5,20-22,*/30 1/6 ? JAN-MAR MON-FRI 2026-2027)")

    assert isinstance(schedule, Cron)
    assert schedule.minutes == frozenset({0, 5, 20, 21, 22, 30})
    assert schedule.hours == frozenset({1, 7, 13, 19})
    assert schedule.days is None
    assert schedule.months == frozenset({1, 2, 3})
    assert schedule.weekdays == frozenset({2, 3, 4, 5, 6})
    assert schedule.years == frozenset({2026, 2027})


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # Every 15 minutes: the next quarter hour, strictly after.
        ("cron(0/15 * * * ? *)", T0, datetime(2026, 3, 14, 10, 15, tzinfo=UTC)),
        ("cron(0/15 * * * ? *)", T0.replace(minute=15, second=0), T0.replace(minute=30, second=0)),
        # 10:00 every day: tomorrow, as today's has passed.
        ("cron(0 10 * * ? *)", T0, datetime(2026, 3, 15, 10, 0, tzinfo=UTC)),
        # 03:00 on Mondays (2 = MON): Monday the 16th.
        ("cron(0 3 ? * MON *)", T0, datetime(2026, 3, 16, 3, 0, tzinfo=UTC)),
        # Noon on Sundays (1 = SUN): Sunday the 15th.
        ("cron(0 12 ? * 1 *)", T0, datetime(2026, 3, 15, 12, 0, tzinfo=UTC)),
        # The 31st: March has one, later today is past 10:07.
        ("cron(30 8 31 * ? *)", T0, datetime(2026, 3, 31, 8, 30, tzinfo=UTC)),
        # The 31st of a month without one is skipped: after March 31 comes May 31.
        ("cron(30 8 31 * ? *)", datetime(2026, 4, 1, tzinfo=UTC),
         datetime(2026, 5, 31, 8, 30, tzinfo=UTC)),
        # February 29 only in leap years.
        ("cron(0 0 29 2 ? *)", T0, datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        # Over the new year.
        ("cron(0 0 1 JAN ? *)", T0, datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_cron_fires_at_the_next_minute_it_names(
    expression: str, after: datetime, expected: datetime
) -> None:
    assert parse_schedule(expression).next_after(after) == expected


def test_a_cron_whose_years_have_passed_never_fires_again() -> None:
    assert parse_schedule("cron(0 0 * * ? 2020)").next_after(T0) is None
