"""A CloudWatch dashboard body evaluated over the metrics the emulator recorded.

Each metric widget's `metrics` array becomes time series: a metric entry
(`[namespace, name, dim, value, ..., {options}]`, "." repeating the entry above) is one
series; a SEARCH expression is one series per metric it finds; any other expression is
metric math (modelship.local.alarms.evaluate_math) over the ids of the entries beside it.
Statistics are computed from the raw values of each period (percentiles by nearest rank,
where CloudWatch estimates them), periods aligned to multiples of the period as CloudWatch
aligns them.

SEARCH is evaluated for the subset modelship's dashboards use, as the CloudWatch User Guide
("CloudWatch search expression syntax") defines it: a metric schema `{Namespace, Dim, ...}`
matches only metrics with exactly those dimension names; `MetricName="x"` and `Dim="value"`
are exact matches of the whole name or value. Partial (unquoted) terms and Boolean operators
are refused by name, not guessed at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from modelship.local.alarms import evaluate_math

# The statistics CloudWatch names (Statistics), of which these are computed locally.
SIMPLE_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?|100)")
# CloudWatch User Guide, search expression syntax: a query is at most 1,024 characters.
SEARCH_QUERY_MAX = 1024
_SEARCH = re.compile(
    r"^SEARCH\(\s*'(?P<query>(?:[^'\\]|\\.)*)'\s*,\s*'(?P<stat>[^']+)'\s*(?:,\s*(?P<period>\d+)\s*)?\)$"
)
_SCHEMA = re.compile(r"^\s*\{(?P<schema>[^}]*)\}\s*,?")
_TERM = re.compile(r'\s*(?P<key>[A-Za-z0-9_.:/-]+)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"')


class UnsupportedExpression(ValueError):
    """An expression outside what the local page evaluates; the message says what."""


@dataclass(frozen=True)
class Search:
    namespace: str
    schema: tuple[str, ...]  # the dimension names a metric must have, exactly
    metric_name: str | None
    terms: Mapping[str, str]  # dimension name -> exact value
    stat: str
    period: int | None

    def matches(self, namespace: str, name: str, dimensions: Mapping[str, str]) -> bool:
        if namespace != self.namespace or set(dimensions) != set(self.schema):
            return False
        if self.metric_name is not None and name != self.metric_name:
            return False
        return all(dimensions.get(key) == value for key, value in self.terms.items())


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_search(expression: str) -> Search:
    found = _SEARCH.match(expression.strip())
    if found is None:
        raise UnsupportedExpression(f"not a SEARCH('query', 'stat'[, period]): {expression!r}")
    query = found["query"]
    if len(query) > SEARCH_QUERY_MAX:
        raise UnsupportedExpression(f"a search query is at most {SEARCH_QUERY_MAX} characters")
    schema = _SCHEMA.match(query)
    if schema is None:
        raise UnsupportedExpression(f"no metric schema {{Namespace, ...}} in {query!r}")
    parts = [part.strip().strip('"') for part in schema["schema"].split(",")]
    rest = query[schema.end() :]
    terms: dict[str, str] = {}
    while rest.strip():
        term = _TERM.match(rest)
        if term is None:
            raise UnsupportedExpression(
                f'only exact Name="value" terms are evaluated locally, not {rest.strip()!r}'
            )
        terms[term["key"]] = _unescape(term["value"])
        rest = rest[term.end() :]
    stat = found["stat"]
    check_statistic(stat)
    metric_name = terms.pop("MetricName", None)
    return Search(
        namespace=parts[0],
        schema=tuple(part for part in parts[1:] if part),
        metric_name=metric_name,
        terms=terms,
        stat=stat,
        period=int(found["period"]) if found["period"] else None,
    )


def check_statistic(stat: str) -> None:
    if stat not in SIMPLE_STATISTICS and not PERCENTILE.fullmatch(stat):
        raise UnsupportedExpression(f"statistic {stat!r} is not evaluated locally")


def statistic(stat: str, values: Sequence[float]) -> float:
    if stat == "Sum":
        return float(sum(values))
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Average":
        return float(sum(values) / len(values))
    if stat == "Minimum":
        return float(min(values))
    if stat == "Maximum":
        return float(max(values))
    percent = float(stat[1:])
    ordered = sorted(values)
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return float(ordered[rank - 1])


@dataclass(frozen=True)
class Datapoint:
    """One value a metric recorded (put_metric_data's datum, unaggregated)."""

    namespace: str
    name: str
    dimensions: Mapping[str, str]
    timestamp: datetime
    value: float


@dataclass
class Series:
    label: str
    dimensions: dict[str, str]
    points: dict[datetime, float]  # period start -> value
    metric: str = ""
    visible: bool = True

    def as_dict(self) -> dict[str, Any]:
        times = sorted(self.points)
        return {
            "label": self.label,
            "metric": self.metric,
            "dimensions": self.dimensions,
            "timestamps": [t.isoformat() for t in times],
            "values": [self.points[t] for t in times],
        }


@dataclass
class Chart:
    title: str
    stat: str
    period: int
    series: list[Series] = field(default_factory=list)
    right: list[Series] = field(default_factory=list)
    annotations: list[tuple[float, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    # Seconds a configured period lasts here: CloudWatch's period / the time scale, and
    # wide enough that a window holds at most `max_points` periods.
    time_scale: float = 1.0
    max_points: int = 240

    def period(self, configured: int) -> int:
        span = (self.end - self.start).total_seconds()
        return max(1, round(configured / self.time_scale), math.ceil(span / self.max_points))

    def bucket(self, moment: datetime, period: int) -> datetime:
        seconds = moment.timestamp()
        return datetime.fromtimestamp(seconds - seconds % period, UTC)

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


class MetricIndex:
    """The datapoints of a window, by (namespace, name, dimensions)."""

    def __init__(self, datapoints: Iterable[Datapoint], window: Window) -> None:
        self.window = window
        self.values: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[Datapoint]] = {}
        for point in datapoints:
            if window.holds(point.timestamp):
                key = (point.namespace, point.name, tuple(sorted(point.dimensions.items())))
                self.values.setdefault(key, []).append(point)

    def series(
        self, namespace: str, name: str, dimensions: Mapping[str, str], stat: str, period: int
    ) -> dict[datetime, float]:
        points = self.values.get((namespace, name, tuple(sorted(dimensions.items()))), [])
        return self._aggregate(points, stat, period)

    def search(self, query: Search, period: int) -> list[Series]:
        found = []
        for (namespace, name, dimensions), points in sorted(self.values.items()):
            as_dict = dict(dimensions)
            if query.matches(namespace, name, as_dict):
                varying = {k: v for k, v in as_dict.items() if k not in query.terms}
                label = " ".join(varying.values()) or name
                aggregated = self._aggregate(points, query.stat, period)
                found.append(Series(label, as_dict, aggregated, metric=name))
        return found

    def _aggregate(
        self, points: Sequence[Datapoint], stat: str, period: int
    ) -> dict[datetime, float]:
        buckets: dict[datetime, list[float]] = {}
        for point in points:
            buckets.setdefault(self.window.bucket(point.timestamp, period), []).append(point.value)
        return {moment: statistic(stat, values) for moment, values in buckets.items()}


def chart(properties: Mapping[str, Any], index: MetricIndex) -> Chart:
    """A metric widget's properties evaluated: its series, left and right, and annotations."""
    stat = str(properties.get("stat") or "Average")
    configured = int(properties.get("period") or 300)
    result = Chart(str(properties.get("title") or ""), stat, index.window.period(configured))
    horizontal = (properties.get("annotations") or {}).get("horizontal") or []
    result.annotations = [
        (float(a["value"]), str(a.get("label", ""))) for a in horizontal if "value" in a
    ]
    by_id: dict[str, dict[datetime, float]] = {}
    expressions: list[tuple[Mapping[str, Any], list[Any]]] = []
    previous: list[Any] = []
    for entry in properties.get("metrics") or []:
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        if "expression" in options:
            expressions.append((options, entry))
            continue
        fields = [
            p if p != "." else previous[i]
            for i, p in enumerate(entry[: len(entry) - bool(options)])
        ]
        previous = fields
        try:
            check_statistic(str(options.get("stat") or stat))
        except UnsupportedExpression as exc:
            result.problems.append(str(exc))
            continue
        period = index.window.period(int(options.get("period") or configured))
        namespace, name, *pairs = fields
        dimensions = {str(pairs[i]): str(pairs[i + 1]) for i in range(0, len(pairs) - 1, 2)}
        points = index.series(namespace, name, dimensions, str(options.get("stat") or stat), period)
        if options.get("id"):
            by_id[str(options["id"])] = points
        if options.get("visible", True):
            series = Series(str(options.get("label") or name), dimensions, points, metric=name)
            (result.right if options.get("yAxis") == "right" else result.series).append(series)
    for formula, _ in expressions:
        try:
            result.series.extend(_expression(formula, by_id, index, configured))
        except UnsupportedExpression as exc:
            result.problems.append(str(exc))
    return result


def _expression(
    options: Mapping[str, Any],
    by_id: Mapping[str, dict[datetime, float]],
    index: MetricIndex,
    configured: int,
) -> list[Series]:
    expression = str(options["expression"])
    if expression.lstrip().startswith("SEARCH("):
        query = parse_search(expression)
        period = index.window.period(int(options.get("period") or query.period or configured))
        return index.search(query, period)
    moments = sorted({moment for points in by_id.values() for moment in points})
    values: dict[datetime, float] = {}
    for moment in moments:
        known = {key: points[moment] for key, points in by_id.items() if moment in points}
        try:
            value = evaluate_math(expression, known)
        except ValueError as exc:
            raise UnsupportedExpression(str(exc)) from None
        if value is not None:
            values[moment] = value
    return [Series(str(options.get("label") or expression), {}, values)]
