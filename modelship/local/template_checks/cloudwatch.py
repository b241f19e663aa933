"""CloudWatch metric alarms (name, description, periods and evaluation window, the metric
math queries of an alarm) and dashboards (name, body)."""

from __future__ import annotations

import json
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


# CloudWatch API reference, PutDashboard: DashboardName at most 255 of A-Z, a-z, 0-9, - and _.
# Dashboard Body Structure and Syntax: a JSON object with a `widgets` array of 0-500 widgets,
# each of type metric, text, log, alarm, explorer or custom, with `properties`; an alarm
# widget lists 1-100 alarms. Service quotas: up to 500 metrics per widget.
DASHBOARD_NAME = (255, re.compile(r"[A-Za-z0-9_-]+"))
DASHBOARD_WIDGET_TYPES = frozenset({"metric", "text", "log", "alarm", "explorer", "custom"})
DASHBOARD_WIDGETS_MAX = 500
DASHBOARD_WIDGET_METRICS_MAX = 500
DASHBOARD_ALARM_WIDGET_ALARMS = (1, 100)


def _dashboard(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "cloudwatch-dashboard-name",
        logical,
        "DashboardName",
        props.get("DashboardName"),
        DASHBOARD_NAME,
        "a dashboard name",
    )
    text = ctx.text(props.get("DashboardBody"))
    for prop, problem in dashboard_body_problems(text):
        ctx.refuse(
            "cloudwatch-dashboard-body", logical, prop, f"{len(text or '')} characters", problem
        )


def dashboard_body_problems(text: str | None) -> list[tuple[str, str]]:
    """(where, what) for each way `text` is not a dashboard body CloudWatch accepts."""
    try:
        body = json.loads(text or "")
    except ValueError:
        return [("DashboardBody", "not valid JSON")]
    widgets = body.get("widgets") if isinstance(body, dict) else None
    if not isinstance(widgets, list):
        return [("DashboardBody", "a JSON object with a widgets array")]
    problems = []
    if len(widgets) > DASHBOARD_WIDGETS_MAX:
        problems.append(("DashboardBody.widgets", f"at most {DASHBOARD_WIDGETS_MAX} widgets"))
    for index, widget in enumerate(widgets):
        where = f"DashboardBody.widgets[{index}]"
        kind = widget.get("type") if isinstance(widget, dict) else None
        properties = widget.get("properties") if isinstance(widget, dict) else None
        if kind not in DASHBOARD_WIDGET_TYPES:
            problems.append(
                (where, f"type {kind!r} is not one of {sorted(DASHBOARD_WIDGET_TYPES)}")
            )
        elif not isinstance(properties, dict):
            problems.append((where, "a widget has properties"))
        elif (
            kind == "metric" and len(properties.get("metrics") or []) > DASHBOARD_WIDGET_METRICS_MAX
        ):
            problems.append((where, f"at most {DASHBOARD_WIDGET_METRICS_MAX} metrics a widget"))
        elif kind == "alarm":
            low, high = DASHBOARD_ALARM_WIDGET_ALARMS
            if not low <= len(properties.get("alarms") or []) <= high:
                problems.append((where, f"an alarm widget lists {low}-{high} alarms"))
    return problems


RULES: dict[str, Rule] = {
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
}
