"""CloudWatch metric alarms: name, description, periods and evaluation window, and the
metric math queries of an alarm."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule, number

# CloudWatch API reference, PutMetricAlarm: AlarmName 1-255, AlarmDescription at most 1024.
ALARM_NAME_MAX = 255
ALARM_DESCRIPTION_MAX = 1024
# CloudWatch API reference, PutMetricAlarm: Period 10, 20, 30 or any multiple of 60; Period x
# EvaluationPeriods at most 604,800 s, and at most 86,400 s for periods under 3,600 s;
# DatapointsToAlarm no more than EvaluationPeriods. MetricDataQuery: up to 20 structures in
# an alarm, at most 10 with a MetricStat and 10 with an Expression; one has ReturnData true
# (the default when omitted); an Id is letters, numbers and underscore, starting lowercase.
HIGH_RESOLUTION_PERIODS = (10, 20, 30)
ALARM_WINDOW_MAX = 604_800
ALARM_WINDOW_MAX_SHORT_PERIOD = 86_400
ALARM_METRIC_STATS_MAX = 10
ALARM_EXPRESSIONS_MAX = 10
METRIC_QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")


def _alarm(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    name = ctx.text(props.get("AlarmName"))
    if name is not None and not 1 <= len(name) <= ALARM_NAME_MAX:
        ctx.refuse(
            "cloudwatch-alarm-name",
            logical,
            "AlarmName",
            name,
            f"an alarm name is {len(name)} characters, AWS allows 1-{ALARM_NAME_MAX}",
        )
    ctx.at_most(
        "cloudwatch-alarm-name",
        logical,
        "AlarmDescription",
        props.get("AlarmDescription"),
        ALARM_DESCRIPTION_MAX,
    )
    evaluation = number(props.get("EvaluationPeriods"))
    datapoints = number(props.get("DatapointsToAlarm"))
    if evaluation is not None and datapoints is not None and datapoints > evaluation:
        ctx.refuse(
            "cloudwatch-alarm-datapoints",
            logical,
            "DatapointsToAlarm",
            props["DatapointsToAlarm"],
            f"must not exceed EvaluationPeriods ({props['EvaluationPeriods']})",
        )
    periods = []
    if props.get("Period") is not None:
        periods.append(("Period", props["Period"]))
    metrics = props.get("Metrics") or []
    for index, query in enumerate(metrics):
        period = (query.get("MetricStat") or {}).get("Period", query.get("Period"))
        if period is not None:
            periods.append((f"Metrics[{index}].Period", period))
    for prop, period in periods:
        value = number(period)
        if value is None or not (
            value in HIGH_RESOLUTION_PERIODS or (value > 0 and value % 60 == 0)
        ):
            ctx.refuse(
                "cloudwatch-alarm-period",
                logical,
                prop,
                period,
                "a period must be 10, 20, 30 or a multiple of 60 seconds",
            )
        elif evaluation is not None:
            window = value * evaluation
            maximum = ALARM_WINDOW_MAX_SHORT_PERIOD if value < 3600 else ALARM_WINDOW_MAX
            if window > maximum:
                ctx.refuse(
                    "cloudwatch-alarm-window",
                    logical,
                    f"{prop} x EvaluationPeriods",
                    int(window),
                    f"at most {maximum} seconds for this period",
                )
    if metrics:
        _metric_math(ctx, logical, props, metrics)


def _metric_math(ctx: Context, logical: str, props: Mapping[str, Any], metrics: list[Any]) -> None:
    stats = sum(1 for q in metrics if "MetricStat" in q)
    expressions = sum(1 for q in metrics if "Expression" in q)
    if stats > ALARM_METRIC_STATS_MAX or expressions > ALARM_EXPRESSIONS_MAX:
        ctx.refuse(
            "cloudwatch-metric-math",
            logical,
            "Metrics",
            f"{stats} metrics, {expressions} expressions",
            f"at most {ALARM_METRIC_STATS_MAX} metrics and {ALARM_EXPRESSIONS_MAX} "
            "expressions in an alarm",
        )
    returned = [q.get("Id") for q in metrics if q.get("ReturnData", True) is not False]
    if len(returned) != 1:
        ctx.refuse(
            "cloudwatch-metric-math",
            logical,
            "Metrics[].ReturnData",
            returned,
            "exactly one query of an alarm returns data",
        )
    for index, query in enumerate(metrics):
        query_id = query.get("Id")
        if not isinstance(query_id, str) or not METRIC_QUERY_ID.fullmatch(query_id):
            ctx.refuse(
                "cloudwatch-metric-math",
                logical,
                f"Metrics[{index}].Id",
                query_id,
                "an id is letters, digits and _ and starts with a lowercase letter",
            )
    for single in ("MetricName", "Namespace", "Dimensions", "Period", "Statistic", "Unit"):
        if props.get(single) is not None:
            ctx.refuse(
                "cloudwatch-metric-math",
                logical,
                single,
                props[single],
                "an alarm with Metrics cannot also set " + single,
            )


RULES: dict[str, Rule] = {"AWS::CloudWatch::Alarm": _alarm}
