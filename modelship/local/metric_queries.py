"""GetMetricData's MetricStat queries answered from an index of moto's stored data.

moto 5.2.5 answers each query by scanning every stored datum and sorting each one's
dimensions; the emulator stores one datum per value (a predict request writes dozens), so a
canary judgement of a hundred queries over a busy window took minutes. Here the window's data
is indexed once per call by metric (namespace, name, dimension set) and each period is cut
from its time-sorted list. Statistics are moto's (with the extended ones of
modelship.local.metric_statistics), so answers are the same, except that a query's namespace
always counts (moto ignores it when the query names dimensions) and, as on CloudWatch, a
metric is its whole dimension set.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

Dimensions = frozenset[tuple[str, str]]
# (statistic, the period's data, the period's start) -> the value, or None
StatisticOf = Callable[[str, list[Any], datetime], Any]


class MetricIndex:
    """The stored data in [start, end), by metric, each list sorted by timestamp."""

    def __init__(self, data: Iterable[Any], start: datetime, end: datetime) -> None:
        self.by_metric: dict[tuple[str, str, Dimensions], list[Any]] = {}
        for datum in data:
            if start <= datum.timestamp < end:
                key = (datum.namespace, datum.name, _dimensions(datum.dimensions))
                self.by_metric.setdefault(key, []).append(datum)
        for series in self.by_metric.values():
            series.sort(key=lambda datum: datum.timestamp)

    def series(self, metric: Mapping[str, Any], unit: str | None) -> list[Any]:
        namespace, name = metric["Namespace"], metric["MetricName"]
        wanted = frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))
        data = self.by_metric.get((namespace, name, wanted), [])
        return [datum for datum in data if datum.unit == unit] if unit else data


def metric_stat_results(
    data: Iterable[Any],
    queries: Sequence[Mapping[str, Any]],
    start: datetime,
    end: datetime,
    scan_by: str,
    statistic: StatisticOf,
) -> list[dict[str, Any]]:
    """moto's result dicts (id, label, values, timestamps, status_code) for the queries that
    return data, every one a MetricStat query; a period without data has no datapoint."""
    index = MetricIndex(data, start, end)
    results = []
    for query in queries:
        metric_stat = query["MetricStat"]
        series = index.series(metric_stat["Metric"], metric_stat.get("Unit"))
        stamps = [datum.timestamp for datum in series]
        period = timedelta(seconds=int(metric_stat["Period"]))
        values: list[Any] = []
        timestamps: list[datetime] = []
        period_start = start
        while period_start <= end and series:
            first = bisect_left(stamps, period_start)
            last = bisect_left(stamps, period_start + period)
            if last > first:
                values.append(statistic(metric_stat["Stat"], series[first:last], period_start))
                timestamps.append(period_start)
            period_start += period
        if scan_by == "TimestampDescending":
            values.reverse()
            timestamps.reverse()
        if query.get("ReturnData", True):
            name = metric_stat["Metric"]["MetricName"]
            results.append(
                {
                    "id": query["Id"],
                    "label": query.get("Label") or f"{name} {metric_stat['Stat']}",
                    "values": values,
                    "timestamps": timestamps,
                    "status_code": "Complete",
                }
            )
    return results


def _dimensions(dimensions: Iterable[Any]) -> Dimensions:
    return frozenset((str(d.name), str(d.value)) for d in dimensions)
