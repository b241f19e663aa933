"""A shadow's agreement report: how the shadow version answered the requests mirrored to it,
against the served answers, and its model latency against the stable release's over the same
window. Read from the metrics the serving and shadow sides emit (`names.METRIC_SHADOW_*`,
ModelLatency) with one GetMetricData period covering the window.

Counts are Sums and the largest score difference a Maximum. Latency percentiles (p50, p99)
need a CloudWatch that computes percentile statistics from the raw values; where the endpoint
cannot (it fails the query, or returns no value for a metric that has samples) they are
reported as unavailable, with the reason, never estimated.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from modelship import names
from modelship.releases.canary_alarms import canary_dimensions
from modelship.serving.shadow_state import ShadowState

# CloudWatch keeps 1-minute data 15 days and 5-minute data 63 days; a query starting further
# back must use a period that is a multiple of 300 or 3600 seconds (MetricStat.Period).
_GRANULARITY = ((timedelta(days=63), 3600), (timedelta(days=15), 300))
PERCENTILES = ("p50", "p99")


class Latency(BaseModel):
    """Model latency (ms) of one side over the window; percentiles None when unavailable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    samples: float
    p50_ms: float | None
    p99_ms: float | None

    def text(self) -> str:
        if not self.samples:
            return "no samples"
        if self.p50_ms is None or self.p99_ms is None:
            return f"{self.samples:.0f} samples, percentiles unavailable"
        return f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"


class ShadowReport(BaseModel):
    """What a shadow showed between `start` and `end`; `final` once it was stopped. Ratios are
    None when there is nothing to divide by. JSON-safe (`model_dump(mode="json")`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    format_version: Literal[1] = 1
    model: str
    lambda_version: str
    model_version: str
    stable_lambda_version: str
    stable_model_version: str
    sample_rate: float
    start: datetime
    end: datetime
    final: bool
    # Sent by the serving versions, and not sent (over the size limit, a full queue).
    mirrored: float
    skipped: float
    # Answered (or failed) by the shadow.
    requests: float
    errors: float
    error_rate: float | None
    rows: float
    agreeing_rows: float
    # Share of rows whose label (regressors: value) equals the served one.
    agreement: float | None
    # Per row, the largest absolute difference of a class probability (regressors: of the
    # prediction) between shadow and served answer: its mean and its maximum.
    mean_score_diff: float | None
    max_score_diff: float | None
    shadow_latency: Latency
    stable_latency: Latency
    percentiles_note: str = ""

    def summary(self) -> str:
        state = "final" if self.final else "running"
        lines = [
            f"shadow     v{self.lambda_version} ({self.model} {self.model_version}) beside stable "
            f"v{self.stable_lambda_version} ({self.stable_model_version or 'no model'}), "
            f"sampling {self.sample_rate:.0%}, {state}",
            f"window     {self.start:%Y-%m-%dT%H:%M:%SZ} .. {self.end:%Y-%m-%dT%H:%M:%SZ}",
            f"mirrored   {self.mirrored:.0f} requests ({self.skipped:.0f} skipped)",
            f"answered   {self.requests:.0f}, errors {self.errors:.0f}"
            + (f" ({self.error_rate:.2%})" if self.error_rate is not None else ""),
        ]
        if self.agreement is None:
            lines.append("agreement  no rows compared yet")
        else:
            differ = self.rows - self.agreeing_rows
            lines.append(
                f"agreement  {self.agreement:.2%} of {self.rows:.0f} rows ({differ:.0f} differ)"
            )
        if self.mean_score_diff is not None:
            top = f"{self.max_score_diff:.4f}" if self.max_score_diff is not None else "-"
            lines.append(f"score diff mean {self.mean_score_diff:.4f}, max {top}")
        lines.append(f"latency    shadow {self.shadow_latency.text()}")
        lines.append(f"           stable {self.stable_latency.text()}")
        if self.percentiles_note:
            lines.append(f"           ({self.percentiles_note})")
        return "\n".join(lines)


def query_window(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime, int]:
    """(start, end, period) of one GetMetricData period covering [start, end): the start
    floored and the end ceiled to the granularity CloudWatch still keeps for that start."""
    age = now - start
    step = next((seconds for older, seconds in _GRANULARITY if age > older), 60)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    first = int((start - epoch).total_seconds()) // step * step
    last = max(math.ceil((end - epoch).total_seconds() / step) * step, first + step)
    return epoch + timedelta(seconds=first), epoch + timedelta(seconds=last), last - first


def read_report(
    cloudwatch: Any,
    state: ShadowState,
    *,
    stable_lambda_version: str,
    stable_model_version: str,
    end: datetime,
    now: datetime,
    final: bool,
) -> ShadowReport:
    """The report of `state`'s shadow over started_at..end."""
    start, stop, period = query_window(state.started_at, end, now)
    shadow = canary_dimensions(state.model, state.model_version)
    queries: dict[str, tuple[str, list[dict[str, str]], str]] = {
        "requests": (names.METRIC_SHADOW_REQUESTS, shadow, "Sum"),
        "errors": (names.METRIC_SHADOW_ERRORS, shadow, "Sum"),
        "rows": (names.METRIC_SHADOW_ROWS, shadow, "Sum"),
        "agreeing": (names.METRIC_SHADOW_AGREEING_ROWS, shadow, "Sum"),
        "diff_sum": (names.METRIC_SHADOW_SCORE_DIFF_SUM, shadow, "Sum"),
        "diff_max": (names.METRIC_SHADOW_SCORE_DIFF_MAX, shadow, "Maximum"),
        "shadow_latency_n": (names.METRIC_SHADOW_LATENCY, shadow, "SampleCount"),
    }
    if stable_model_version:
        stable = canary_dimensions(state.model, stable_model_version)
        queries["stable_latency_n"] = (names.METRIC_MODEL_LATENCY, stable, "SampleCount")
    # The serving side counts its mirrors under every version's requests and under the
    # model's own set, which adds up whichever versions served (and a promotion meanwhile).
    model_wide = [
        {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
        {"Name": names.METRIC_DIMENSION_MODEL, "Value": state.model},
    ]
    queries["mirrored"] = (names.METRIC_SHADOW_MIRRORED, model_wide, "Sum")
    queries["skipped"] = (names.METRIC_SHADOW_SKIPPED, model_wide, "Sum")
    values = _values(cloudwatch, queries, start, stop, period)

    def total(prefix: str) -> float:
        return sum(v or 0.0 for k, v in values.items() if k.startswith(prefix))

    requests, errors = total("requests"), total("errors")
    rows, agreeing, diff_sum = total("rows"), total("agreeing"), total("diff_sum")
    shadow_n, stable_n = total("shadow_latency_n"), total("stable_latency_n")
    percentiles, note = _percentiles(
        cloudwatch,
        {"shadow": (names.METRIC_SHADOW_LATENCY, shadow, shadow_n)}
        | (
            {"stable": (names.METRIC_MODEL_LATENCY, stable, stable_n)}
            if stable_model_version
            else {}
        ),
        start,
        stop,
        period,
    )
    return ShadowReport(
        model=state.model,
        lambda_version=state.lambda_version,
        model_version=state.model_version,
        stable_lambda_version=stable_lambda_version,
        stable_model_version=stable_model_version,
        sample_rate=state.sample_rate,
        start=state.started_at,
        end=end,
        final=final,
        mirrored=total("mirrored"),
        skipped=total("skipped"),
        requests=requests,
        errors=errors,
        error_rate=errors / requests if requests else None,
        rows=rows,
        agreeing_rows=agreeing,
        agreement=agreeing / rows if rows else None,
        mean_score_diff=diff_sum / rows if rows else None,
        max_score_diff=values.get("diff_max") if rows else None,
        shadow_latency=Latency(
            samples=shadow_n,
            p50_ms=percentiles.get(("shadow", "p50")),
            p99_ms=percentiles.get(("shadow", "p99")),
        ),
        stable_latency=Latency(
            samples=stable_n,
            p50_ms=percentiles.get(("stable", "p50")),
            p99_ms=percentiles.get(("stable", "p99")),
        ),
        percentiles_note=note,
    )


def _percentiles(
    cloudwatch: Any,
    sides: dict[str, tuple[str, list[dict[str, str]], float]],
    start: datetime,
    end: datetime,
    period: int,
) -> tuple[dict[tuple[str, str], float], str]:
    """p50 and p99 of each side with samples, and why any is missing (empty when none is)."""
    queries = {
        f"{side}_{stat}": (metric, dimensions, stat)
        for side, (metric, dimensions, samples) in sides.items()
        if samples
        for stat in PERCENTILES
    }
    if not queries:
        return {}, ""
    try:
        values = _values(cloudwatch, queries, start, end, period)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return {}, f"latency percentiles unavailable: GetMetricData answered {code}"
    found = {
        (key.partition("_")[0], key.partition("_")[2]): value
        for key, value in values.items()
        if value is not None
    }
    if len(found) < len(queries):
        return found, "latency percentiles unavailable: CloudWatch returned none for them"
    return found, ""


def _values(
    cloudwatch: Any,
    queries: dict[str, tuple[str, list[dict[str, str]], str]],
    start: datetime,
    end: datetime,
    period: int,
) -> dict[str, float | None]:
    """One value per query over the single period (None when the metric has no data)."""
    ids = {f"q{index}": key for index, key in enumerate(queries)}
    request = [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": names.METRICS_NAMESPACE,
                    "MetricName": queries[key][0],
                    "Dimensions": queries[key][1],
                },
                "Period": period,
                "Stat": queries[key][2],
            },
            "ReturnData": True,
        }
        for query_id, key in ids.items()
    ]
    found: dict[str, list[float]] = {key: [] for key in queries}
    token: str | None = None
    while True:
        extra = {"NextToken": token} if token else {}
        page = cloudwatch.get_metric_data(
            MetricDataQueries=request, StartTime=start, EndTime=end, **extra
        )
        for result in page.get("MetricDataResults", []):
            key = ids.get(result["Id"])
            if key is not None:
                found[key].extend(float(v) for v in result.get("Values", []))
        token = page.get("NextToken")
        if not token:
            return {key: _reduce(queries[key][2], found[key]) for key in queries}


def _reduce(stat: str, values: list[float]) -> float | None:
    """The window's value from its datapoints: one, as the period covers the window. Counts
    add up and maxima max over any split; a percentile of several periods is not theirs to
    combine, so it is None."""
    if not values:
        return None
    if stat in ("Sum", "SampleCount"):
        return sum(values)
    if stat == "Maximum":
        return max(values)
    return values[0] if len(values) == 1 else None
