"""CloudWatch metrics for the local emulator, as Lambda and the EMF agent would record them.

On Lambda, CloudWatch Logs turns every EMF document a function prints (JSON with "_aws")
into metric data, one datum per metric and dimension set; Lambda itself records Invocations,
Errors and Duration per function, per alias (Resource) and per executed version. Here both
become `put_metric_data` calls on the emulator's moto server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelship.local.executor import InvocationResult

LAMBDA_NAMESPACE = "AWS/Lambda"
# put_metric_data accepts at most this many data per call.
_BATCH = 1000


def emf_metric_data(document: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(namespace, MetricDatum) pairs for one EMF document."""
    meta = document.get("_aws") or {}
    millis = meta.get("Timestamp")
    timestamp = (
        datetime.fromtimestamp(millis / 1000, UTC)
        if isinstance(millis, int | float)
        else datetime.now(UTC)
    )
    data: list[tuple[str, dict[str, Any]]] = []
    for directive in meta.get("CloudWatchMetrics") or []:
        namespace = directive.get("Namespace", "aws-embedded-metrics")
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = [
                {"Name": key, "Value": str(document[key])}
                for key in dimension_set
                if key in document
            ]
            for metric in directive.get("Metrics") or []:
                raw = document.get(metric["Name"])
                values = raw if isinstance(raw, list) else [raw]
                for value in values:
                    if not isinstance(value, int | float):
                        continue
                    datum: dict[str, Any] = {
                        "MetricName": metric["Name"],
                        "Dimensions": dimensions,
                        "Value": float(value),
                        "Timestamp": timestamp,
                    }
                    if metric.get("Unit"):
                        datum["Unit"] = metric["Unit"]
                    data.append((namespace, datum))
    return data


def lambda_metric_data(result: InvocationResult) -> list[tuple[str, dict[str, Any]]]:
    """What Lambda records for one invocation: Invocations, Errors, Duration."""
    function = result.function
    dimension_sets = [[{"Name": "FunctionName", "Value": function.name}]]
    if result.alias:
        resource = [
            {"Name": "FunctionName", "Value": function.name},
            {"Name": "Resource", "Value": f"{function.name}:{result.alias}"},
        ]
        dimension_sets += [
            resource,
            [*resource, {"Name": "ExecutedVersion", "Value": function.version}],
        ]
    now = datetime.now(UTC)
    data: list[tuple[str, dict[str, Any]]] = []
    for dimensions in dimension_sets:
        for name, value, unit in (
            ("Invocations", 1.0, "Count"),
            ("Errors", 1.0 if result.failed else 0.0, "Count"),
            ("Duration", result.duration_ms, "Milliseconds"),
        ):
            data.append(
                (
                    LAMBDA_NAMESPACE,
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Value": value,
                        "Unit": unit,
                        "Timestamp": now,
                    },
                )
            )
    return data


class MetricsPublisher:
    """Writes an invocation's metrics to CloudWatch (the moto server)."""

    def __init__(self, cloudwatch: Any) -> None:
        self.cloudwatch = cloudwatch

    def publish(self, result: InvocationResult) -> None:
        data = lambda_metric_data(result)
        for document in result.metrics:
            data += emf_metric_data(document)
        self.put(data)

    def put(self, data: Iterable[tuple[str, dict[str, Any]]]) -> None:
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for namespace, datum in data:
            by_namespace.setdefault(namespace, []).append(datum)
        for namespace, metric_data in by_namespace.items():
            for start in range(0, len(metric_data), _BATCH):
                self.cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=metric_data[start : start + _BATCH]
                )
