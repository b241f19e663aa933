"""The emulator's dashboards as local web pages, drawn from the metrics it really recorded.

The HTTP gateway passes GET requests under /_local/dashboards/ here (the API has no /_local/
routes, and the gateway tries the API's routes first):

    /_local/dashboards/             the index: every dashboard the template deployed
    /_local/dashboards/<name>       the dashboard as a self-contained HTML page
    /_local/dashboards/<name>.json  the evaluated series, alarm states and text widgets

`?minutes=N` sets the window (the last hour by default). Everything is read from the moto
CloudWatch backend of the emulator's own process: the dashboard body put_dashboard stored,
the raw datapoints (so percentiles come from the values, where moto's get_metric_data has
none) and each alarm's state history. Periods are compressed by the emulator's time scale,
as its alarms' are (modelship.local.dashboard_series.Window).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from modelship.local.dashboard_html import render_dashboard, render_index
from modelship.local.dashboard_series import Datapoint, MetricIndex, Window, chart

PREFIX = "/_local/dashboards/"
DEFAULT_MINUTES = 60
MAX_MINUTES = 24 * 60
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def datapoints(backend: Any) -> Iterator[Datapoint]:
    """Every single value moto's CloudWatch backend holds (statistic sets are skipped: the
    emulator records values only)."""
    for datum in list(backend.metric_data):
        value = getattr(datum, "value", None)
        if value is None:
            continue
        timestamp = datum.timestamp
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=UTC)
        dimensions = {d.name: d.value for d in datum.dimensions}
        yield Datapoint(datum.namespace, datum.name, dimensions, timestamp, float(value))


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alarm_view(alarm: Any, window: Window) -> dict[str, Any]:
    """An alarm's state now and every state it entered within the window, oldest first."""
    states = [
        (str(state), _utc(since), str(reason))
        for kind, reason, _, state, since in alarm.history
        if kind == "StateUpdate"
    ]
    states.append((alarm.state_value, _utc(alarm.state_updated_timestamp), alarm.state_reason))
    changes = [
        {"state": state, "at": since.isoformat(), "reason": reason}
        for state, since, reason in states
        if since >= window.start
    ]
    return {
        "name": alarm.name,
        "arn": alarm.alarm_arn,
        "state": alarm.state_value,
        "since": _utc(alarm.state_updated_timestamp).isoformat(),
        "reason": alarm.state_reason,
        "changes": changes,
    }


class LocalDashboards:
    """Answers the dashboard pages from a moto CloudWatch backend (`backend()` returns it)."""

    def __init__(
        self,
        backend: Callable[[], Any],
        time_scale: float = 1.0,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.backend = backend
        self.time_scale = time_scale
        self.now = now or (lambda: datetime.now(UTC))

    def handle(self, method: str, path: str, query: str) -> Answer | None:
        """The answer for a request under PREFIX; None for any other path."""
        if not (path + "/").startswith(PREFIX):
            return None
        if method not in {"GET", "HEAD"}:
            return _json(405, {"message": "Method Not Allowed"})
        name = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        try:
            minutes = _minutes(query)
        except ValueError as exc:
            return _json(400, {"message": str(exc)})
        backend = self.backend()
        if not name:
            names = sorted(backend.dashboards)
            return Answer(200, "text/html; charset=utf-8", render_index(names).encode())
        as_json = name.endswith(".json")
        name = name.removesuffix(".json")
        dashboard = backend.dashboards.get(name) if _NAME.fullmatch(name) else None
        if dashboard is None:
            return _json(404, {"message": f"no dashboard named {name!r}"})
        evaluated = self.evaluate(name, json.loads(dashboard.body), minutes)
        if as_json:
            return _json(200, evaluated)
        return Answer(200, "text/html; charset=utf-8", render_dashboard(evaluated).encode())

    def evaluate(self, name: str, body: dict[str, Any], minutes: int) -> dict[str, Any]:
        """The dashboard's widgets with their series, alarm states and text, in body order."""
        backend = self.backend()
        end = self.now().replace(microsecond=0) + timedelta(seconds=1)
        window = Window(end - timedelta(minutes=minutes), end, self.time_scale)
        index = MetricIndex(datapoints(backend), window)
        by_arn = {alarm.alarm_arn: alarm for alarm in list(backend.alarms.values())}
        widgets: list[dict[str, Any]] = []
        for widget in body.get("widgets") or []:
            kind, properties = widget.get("type"), widget.get("properties") or {}
            entry: dict[str, Any] = {"type": kind, "title": str(properties.get("title") or "")}
            entry["width"] = int(widget.get("width") or 6)
            if kind == "metric":
                evaluated = chart(properties, index)
                entry.update(
                    period=evaluated.period,
                    stat=evaluated.stat,
                    series=[s.as_dict() for s in evaluated.series],
                    right=[s.as_dict() for s in evaluated.right],
                    annotations=[
                        {"value": v, "label": label} for v, label in evaluated.annotations
                    ],
                    problems=evaluated.problems,
                )
            elif kind == "alarm":
                arns = [str(arn) for arn in properties.get("alarms") or []]
                entry["alarms"] = [
                    alarm_view(by_arn[arn], window)
                    if arn in by_arn
                    else {"name": arn.rsplit(":", 1)[-1], "arn": arn, "state": "NOT FOUND"}
                    for arn in arns
                ]
            elif kind == "text":
                entry["markdown"] = str(properties.get("markdown") or "")
            else:
                entry["problems"] = [f"{kind} widgets are not drawn locally"]
            widgets.append(entry)
        return {
            "dashboard": name,
            "window": {
                "start": window.start.isoformat(),
                "end": window.end.isoformat(),
                "minutes": minutes,
                "time_scale": self.time_scale,
            },
            "widgets": widgets,
        }


def _minutes(query: str) -> int:
    values = parse_qs(query).get("minutes")
    if not values:
        return DEFAULT_MINUTES
    raw = values[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_MINUTES:
        raise ValueError(f"minutes must be a whole number from 1 to {MAX_MINUTES}, got {raw!r}")
    return int(raw)


def _json(status: int, value: Any) -> Answer:
    return Answer(status, "application/json", json.dumps(value).encode())


def moto_backend() -> Any:
    """The CloudWatch backend of the emulator's moto server (same process)."""
    from moto.cloudwatch.models import cloudwatch_backends

    from modelship.local.deployment import ACCOUNT, REGION

    return cloudwatch_backends[ACCOUNT][REGION]
