"""Reading a canary window from CloudWatch: each side's requests, errors, and the binned
distributions of its model latency and prediction scores, as the judge compares them.

One GetMetricData period covers the whole window, so each query answers one number. Counts
are Sums of the predict function's own metrics over the dimension set {service, Model,
ModelVersion} (`canary_alarms.canary_dimensions`). A distribution is read in two steps:
first the EDGE_PERCENTILES of both sides (`pNN`), whose union is the bin edges
(`canary_samples.shared_edges`), then `PR(:edge)` for each edge and the SampleCount: the
percentage of values at most each edge, times the count, less the previous edge's, is the
bin's count. Score edges are fixed (SCORE_EDGES), so scores need only the second step.

A version that fails before its handler runs (an init crash, an import error, a timeout)
records none of those metrics, so each side's counts also take Lambda's own: `Invocations`
and `Errors` Sums in AWS/Lambda under {FunctionName, Resource=<function>:<alias>,
ExecutedVersion=<the side's Lambda version>} (Lambda developer guide, "Types of metrics for
Lambda functions": ExecutedVersion filters alias invocations by the version executed).
A function error is never a handled answer, so a side's errors are PredictionErrors plus
Lambda Errors, and its requests the larger of Requests and Invocations.

API facts relied on (CloudWatch API reference, GetMetricData, MetricStat, MetricDataResult;
"CloudWatch statistics definitions"): a period is a multiple of 60 for standard-resolution
metrics; a call takes at most 500 queries; results page with NextToken, a result's
StatusCode is Complete, PartialData (more on the next page), InternalError or Forbidden;
percentile rank excludes its lower bound and includes its upper; statistic bounds are
plain decimals with up to 10 decimal places. IAM: `cloudwatch:GetMetricData` has no
resource-level permission (Resource "*").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from modelship import names
from modelship.errors import ReleaseError
from modelship.releases.canary_alarms import canary_dimensions
from modelship.releases.canary_samples import (
    EDGE_PERCENTILES,
    SCORE_EDGES,
    CanaryWindow,
    Histogram,
    SideSample,
    shared_edges,
)

# GetMetricData API reference: "as many as 500 MetricDataQuery structures" per call.
MAX_QUERIES_PER_CALL = 500
_MINUTE = timedelta(minutes=1)
_FAILED_STATUSES = {"InternalError", "Forbidden", "PartialData"}
LAMBDA_NAMESPACE = "AWS/Lambda"
LAMBDA_INVOCATIONS = "Invocations"
LAMBDA_ERRORS = "Errors"


@dataclass(frozen=True)
class _Side:
    key: str  # a query id prefix: ids start with a lowercase letter
    model_version: str
    lambda_version: str


def read_window(
    cloudwatch: Any,
    *,
    model_name: str,
    function_name: str,
    alias: str,
    stable_version: str,
    candidate_version: str,
    stable_lambda_version: str,
    candidate_lambda_version: str,
    start: datetime,
    end: datetime,
    scores: bool,
) -> CanaryWindow:
    """Both sides' samples over [start, end): start floored and end ceiled to the minute.
    A side is its model version (the handler's metrics) and its Lambda version (Lambda's
    metrics for invocations of `alias` of `function_name` that ran that version)."""
    first, last = window_bounds(start, end)
    period = int((last - first).total_seconds())
    sides = (
        _Side("s", stable_version, stable_lambda_version),
        _Side("c", candidate_version, candidate_lambda_version),
    )

    def fetch(queries: Sequence[dict[str, Any]]) -> dict[str, float]:
        return fetch_values(cloudwatch, queries, start=first, end=last)

    def query(side: _Side, suffix: str, metric: str, stat: str) -> dict[str, Any]:
        return _query(f"{side.key}_{suffix}", model_name, side.model_version, metric, stat, period)

    counts: list[dict[str, Any]] = []
    for side in sides:
        counts += [
            query(side, "requests", names.METRIC_REQUESTS, "Sum"),
            query(side, "errors", names.METRIC_PREDICTION_ERRORS, "Sum"),
            *(
                _lambda_query(f"{side.key}_{suffix}", function_name, alias, side, metric, period)
                for suffix, metric in (("li", LAMBDA_INVOCATIONS), ("le", LAMBDA_ERRORS))
            ),
        ]
        counts += [
            query(side, f"lp{p}", names.METRIC_MODEL_LATENCY, f"p{p}") for p in EDGE_PERCENTILES
        ]
    first_step = fetch(counts)
    latency_edges = _stat_edges(
        shared_edges(
            *(
                [
                    first_step[f"{s.key}_lp{p}"]
                    for p in EDGE_PERCENTILES
                    if f"{s.key}_lp{p}" in first_step
                ]
                for s in sides
            )
        )
    )
    score_edges = _stat_edges(SCORE_EDGES) if scores else ()

    binning: list[dict[str, Any]] = []
    for side in sides:
        binning += _bin_queries(query, side, "l", names.METRIC_MODEL_LATENCY, latency_edges)
        if scores:
            binning += _bin_queries(query, side, "s", names.METRIC_PREDICTION_SCORE, score_edges)
    second_step = fetch(binning)

    def count(side: _Side, suffix: str) -> int:
        return round(first_step.get(f"{side.key}_{suffix}", 0.0))

    def sample(side: _Side) -> SideSample:
        requests = max(count(side, "requests"), count(side, "li"))
        return SideSample(
            model_version=side.model_version,
            requests=requests,
            # Invocations count both kinds of error, so the sum is at most them, but the two
            # pipelines' delays differ at a window's end: never more errors than requests.
            errors=min(requests, count(side, "errors") + count(side, "le")),
            latency=_histogram(second_step, f"{side.key}_l", latency_edges),
            scores=_histogram(second_step, f"{side.key}_s", score_edges) if scores else None,
        )

    return CanaryWindow(start=first, end=last, stable=sample(sides[0]), candidate=sample(sides[1]))


def window_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole minutes: the one period GetMetricData is asked for."""
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None:
            raise ValueError(f"canary window {name} {value.isoformat()} has no time zone")
    first = start.replace(second=0, microsecond=0)
    last = end.replace(second=0, microsecond=0)
    if last < end:
        last += _MINUTE
    if last <= first:
        raise ValueError(
            f"canary window end {end.isoformat()} is not after its start {start.isoformat()}"
        )
    return first, last


def fetch_values(
    cloudwatch: Any, queries: Sequence[dict[str, Any]], *, start: datetime, end: datetime
) -> dict[str, float]:
    """Each query's single value over one period, by query id; a query without data is
    absent. Calls GetMetricData with at most 500 queries each, following NextToken."""
    values: dict[str, float] = {}
    statuses: dict[str, tuple[str, list[str]]] = {}
    paginator = cloudwatch.get_paginator("get_metric_data")
    for chunk_start in range(0, len(queries), MAX_QUERIES_PER_CALL):
        chunk = list(queries[chunk_start : chunk_start + MAX_QUERIES_PER_CALL])
        pages = paginator.paginate(
            MetricDataQueries=chunk, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
        )
        for page in pages:
            for result in page.get("MetricDataResults", []):
                query_id = result["Id"]
                found = result.get("Values") or []
                if len(found) > 1 or (found and query_id in values):
                    # The period spans the window: a second value would mean part of the
                    # window was dropped, and a percentile of one part is not of the whole.
                    raise ReleaseError(
                        f"CloudWatch answered {query_id} with more than one period over the "
                        f"canary window {start.isoformat()} to {end.isoformat()}",
                        reason="canary_metrics_unavailable",
                    )
                if found:
                    # One period: one value; a later page may carry it after PartialData.
                    values[query_id] = float(found[0])
                messages = [str(m.get("Value", "")) for m in result.get("Messages", [])]
                statuses[query_id] = (result.get("StatusCode", "Complete"), messages)
    failed = {
        query_id: status
        for query_id, status in statuses.items()
        if status[0] in _FAILED_STATUSES and query_id not in values
    }
    if failed:
        described = "; ".join(
            f"{query_id}: {status}{' (' + ', '.join(m) + ')' if m else ''}"
            for query_id, (status, m) in sorted(failed.items())
        )
        raise ReleaseError(
            f"CloudWatch could not answer the canary window's metrics: {described}",
            reason="canary_metrics_unavailable",
        )
    return values


def _query(
    query_id: str, model_name: str, model_version: str, metric: str, stat: str, period: int
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": names.METRICS_NAMESPACE,
                "MetricName": metric,
                "Dimensions": canary_dimensions(model_name, model_version),
            },
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def _lambda_query(
    query_id: str, function_name: str, alias: str, side: _Side, metric: str, period: int
) -> dict[str, Any]:
    dimensions = {
        "FunctionName": function_name,
        "Resource": f"{function_name}:{alias}",
        "ExecutedVersion": side.lambda_version,
    }
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": LAMBDA_NAMESPACE,
                "MetricName": metric,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": True,
    }


_Query = Callable[["_Side", str, str, str], dict[str, Any]]


def _bin_queries(
    query: _Query, side: _Side, kind: str, metric: str, edges: Sequence[float]
) -> list[dict[str, Any]]:
    queries = [query(side, f"{kind}n", metric, "SampleCount")]
    queries += [
        query(side, f"{kind}r{i}", metric, f"PR(:{_decimal(edge)})") for i, edge in enumerate(edges)
    ]
    return queries


def _histogram(
    values: Mapping[str, float], prefix: str, edges: Sequence[float]
) -> Histogram | None:
    """Counts per bin from the cumulative PR(:edge) percentages and the SampleCount; zero
    counts without data; None when CloudWatch counted values but gave no rank for an edge
    (it gives none for a period with a negative value). A CloudWatch estimate can make the
    cumulative counts dip: they are kept non-decreasing and at most the total, so no bin is
    negative."""
    total = values.get(f"{prefix}n", 0.0)
    ranks = [values.get(f"{prefix}r{i}") for i in range(len(edges))]
    if total and any(rank is None for rank in ranks):
        return None
    counts: list[float] = []
    below = 0.0
    for rank in ranks:
        # Exact ranks give whole counts but for float error; an estimate's fractions stay.
        at_most = min(total, max(below, round((rank or 0.0) * total / 100.0, 6)))
        counts.append(at_most - below)
        below = at_most
    counts.append(total - below)
    return Histogram(tuple(edges), tuple(counts))


def _decimal(edge: float) -> str:
    """A bound as CloudWatch's statistic syntax takes it: a plain decimal, at most 10 places."""
    text = f"{edge:.10f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _stat_edges(edges: Iterable[float]) -> tuple[float, ...]:
    """The edges as the statistic strings will name them (rounded to 10 decimal places),
    without repeats, increasing."""
    return tuple(sorted({float(_decimal(edge)) for edge in edges}))
