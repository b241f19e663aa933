"""Alarm evaluation for moto, which stores alarms and metrics but never evaluates them.

`evaluate_alarms` reads each metric alarm's metric (or metric math) over its last evaluation
window, compares it with the threshold, and moves the alarm's state like CloudWatch would.
Limits: metric math supports + - * / over the query ids and numbers; a percentile statistic
(p99) is approximated by Maximum, which is never lower, so a local alarm can fire earlier
than AWS would, never later.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

_OPERATORS: dict[type[ast.operator], Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


@dataclass(frozen=True)
class Transition:
    alarm_name: str
    old_state: str
    new_state: str
    value: float | None
    reason: str


def evaluate_math(expression: str, values: Mapping[str, float]) -> float | None:
    """Arithmetic over query ids; None when a divisor is zero (no data, like CloudWatch)."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(f"unsupported metric math: {expression!r}")

    try:
        return walk(ast.parse(expression, mode="eval"))
    except (ZeroDivisionError, KeyError):
        return None


def _stat_value(
    cloudwatch: Any,
    metric: Mapping[str, Any],
    stat: str,
    period: int,
    start: datetime,
    end: datetime,
) -> float | None:
    moto_stat = "Maximum" if stat.startswith("p") else stat
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {"Metric": dict(metric), "Period": period, "Stat": moto_stat},
                "ReturnData": True,
            }
        ],
        StartTime=start,
        EndTime=end,
    )
    values = [v for r in response["MetricDataResults"] for v in r.get("Values", [])]
    if not values:
        return None
    if moto_stat == "Sum":
        return float(sum(values))
    if moto_stat in {"Maximum", "Average"}:
        return float(max(values)) if moto_stat == "Maximum" else float(sum(values) / len(values))
    return float(values[0])


def alarm_value(cloudwatch: Any, alarm: Mapping[str, Any], now: datetime) -> float | None:
    """The alarm's metric over its evaluation window ending `now`."""
    if alarm.get("Metrics"):
        queries = alarm["Metrics"]
        period = max(int(q["MetricStat"]["Period"]) for q in queries if "MetricStat" in q)
        start = now - timedelta(seconds=period * int(alarm.get("EvaluationPeriods", 1)))
        values: dict[str, float] = {}
        for query in queries:
            if "MetricStat" in query:
                stat = query["MetricStat"]
                value = _stat_value(
                    cloudwatch, stat["Metric"], stat["Stat"], int(stat["Period"]), start, now
                )
                if value is not None:
                    values[query["Id"]] = value
        results = [q for q in queries if q.get("ReturnData", True) and "Expression" in q]
        if not results:
            return None
        return evaluate_math(results[0]["Expression"], values)
    period = int(alarm["Period"])
    start = now - timedelta(seconds=period * int(alarm.get("EvaluationPeriods", 1)))
    metric = {
        "Namespace": alarm["Namespace"],
        "MetricName": alarm["MetricName"],
        "Dimensions": alarm.get("Dimensions", []),
    }
    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    return _stat_value(cloudwatch, metric, stat, period, start, now)


def evaluate_alarms(
    cloudwatch: Any, prefix: str = "", now: datetime | None = None
) -> list[Transition]:
    """Evaluates every metric alarm (with this name prefix) once; returns state changes."""
    # Timestamps travel with whole seconds: end the window after the current second.
    moment = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    transitions = []
    kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
    if prefix:
        kwargs["AlarmNamePrefix"] = prefix
    for alarm in cloudwatch.describe_alarms(**kwargs).get("MetricAlarms", []):
        value = alarm_value(cloudwatch, alarm, moment)
        if value is None:
            missing = alarm.get("TreatMissingData", "missing")
            new = {"breaching": "ALARM", "notBreaching": "OK"}.get(missing, "INSUFFICIENT_DATA")
            reason = f"no datapoints (TreatMissingData {missing})"
        else:
            compare = _COMPARE[alarm["ComparisonOperator"]]
            new = "ALARM" if compare(value, float(alarm["Threshold"])) else "OK"
            reason = (
                f"Threshold Crossed: datapoint {value:g} {'>' if new == 'ALARM' else '<='} "
                f"threshold {float(alarm['Threshold']):g}"
            )
        if new != alarm["StateValue"]:
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue=new, StateReason=reason
            )
            transitions.append(
                Transition(alarm["AlarmName"], alarm["StateValue"], new, value, reason)
            )
    return transitions
