"""Alarm evaluation for moto, which stores alarms and metrics but never evaluates them.

`evaluate_alarms` reads each metric alarm's metric (or metric math) for each of its last
EvaluationPeriods periods, counts the breaching datapoints, and moves the alarm's state like
CloudWatch would: ALARM when at least DatapointsToAlarm of them breach, missing datapoints
treated as TreatMissingData says. `time_scale` shrinks every period by that factor (the
emulator's time compression; 1 is faithful).
Limits: metric math supports + - * /, comparisons, IF and FILL(query, number) over the query
ids and numbers; a percentile statistic (p99) is approximated by Maximum, which is never
lower, so a local alarm can fire earlier than AWS would, never later.
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
_RELATIONS: dict[type[ast.cmpop], Any] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
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
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _RELATIONS:
            relation = _RELATIONS[type(node.ops[0])]
            return 1.0 if relation(walk(node.left), walk(node.comparators[0])) else 0.0
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "IF"
            and len(node.args) == 3
        ):
            condition, then, otherwise = node.args
            return walk(then) if walk(condition) != 0 else walk(otherwise)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "FILL"
            and len(node.args) == 2
        ):
            # FILL(m, value): `value` where the query has no datapoint in the period.
            series, value = node.args
            try:
                return walk(series)
            except KeyError:
                return walk(value)
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


def _window_value(
    cloudwatch: Any, alarm: Mapping[str, Any], start: datetime, end: datetime
) -> float | None:
    """The alarm's metric (or metric math) over one period, [start, end)."""
    if alarm.get("Metrics"):
        queries = alarm["Metrics"]
        values: dict[str, float] = {}
        for query in queries:
            if "MetricStat" in query:
                stat = query["MetricStat"]
                value = _stat_value(
                    cloudwatch, stat["Metric"], stat["Stat"], int(stat["Period"]), start, end
                )
                if value is not None:
                    values[query["Id"]] = value
        results = [q for q in queries if q.get("ReturnData", True) and "Expression" in q]
        if not results or not values:
            return None
        return evaluate_math(results[0]["Expression"], values)
    metric = {
        "Namespace": alarm["Namespace"],
        "MetricName": alarm["MetricName"],
        "Dimensions": alarm.get("Dimensions", []),
    }
    stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic") or "Average"
    return _stat_value(cloudwatch, metric, stat, int(alarm["Period"]), start, end)


def alarm_period(alarm: Mapping[str, Any]) -> int:
    if alarm.get("Metrics"):
        return max(int(q["MetricStat"]["Period"]) for q in alarm["Metrics"] if "MetricStat" in q)
    return int(alarm["Period"])


def alarm_datapoints(
    cloudwatch: Any, alarm: Mapping[str, Any], now: datetime, time_scale: float = 1.0
) -> list[float | None]:
    """One datapoint (None: missing) per evaluation period, oldest first, ending `now`."""
    # Timestamps travel with whole seconds: so do the compressed periods.
    period = timedelta(seconds=max(1, round(alarm_period(alarm) / time_scale)))
    count = int(alarm.get("EvaluationPeriods", 1))
    return [
        _window_value(cloudwatch, alarm, now - period * (i + 1), now - period * i)
        for i in reversed(range(count))
    ]


def next_state(alarm: Mapping[str, Any], datapoints: list[float | None]) -> tuple[str, str]:
    """(state, reason) for these datapoints, as CloudWatch decides it: at least
    DatapointsToAlarm breaching datapoints of the evaluated ones means ALARM."""
    compare = _COMPARE[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    needed = int(alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods", 1))
    missing = alarm.get("TreatMissingData", "missing")
    present = [v for v in datapoints if v is not None]
    if not present:
        if missing == "ignore":
            return str(alarm["StateValue"]), "no datapoints (TreatMissingData ignore)"
        state = {"breaching": "ALARM", "notBreaching": "OK"}.get(missing, "INSUFFICIENT_DATA")
        return state, f"no datapoints (TreatMissingData {missing})"
    breaching = sum(1 for v in present if compare(v, threshold))
    if missing == "breaching":
        breaching += len(datapoints) - len(present)
    state = "ALARM" if breaching >= needed else "OK"
    shown = ", ".join("missing" if v is None else f"{v:g}" for v in datapoints)
    reason = (
        f"Threshold Crossed: {breaching} of {len(datapoints)} datapoints [{shown}] "
        f"{'breached' if state == 'ALARM' else 'did not breach enough of'} "
        f"threshold {threshold:g} ({needed} needed)"
    )
    return state, reason


def evaluate_alarms(
    cloudwatch: Any,
    prefix: str = "",
    now: datetime | None = None,
    time_scale: float = 1.0,
) -> list[Transition]:
    """Evaluates every metric alarm (with this name prefix) once; returns state changes."""
    # Timestamps travel with whole seconds: end the window after the current second.
    moment = (now or datetime.now(UTC)).replace(microsecond=0) + timedelta(seconds=1)
    transitions = []
    kwargs: dict[str, Any] = {"AlarmTypes": ["MetricAlarm"]}
    if prefix:
        kwargs["AlarmNamePrefix"] = prefix
    for alarm in cloudwatch.describe_alarms(**kwargs).get("MetricAlarms", []):
        datapoints = alarm_datapoints(cloudwatch, alarm, moment, time_scale)
        new, reason = next_state(alarm, datapoints)
        if new != alarm["StateValue"]:
            cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue=new, StateReason=reason[:1000]
            )
            transitions.append(
                Transition(alarm["AlarmName"], alarm["StateValue"], new, datapoints[-1], reason)
            )
    return transitions
