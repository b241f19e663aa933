"""Metrics the drift monitor emits (EMF through Powertools), per model and per feature.

{service: monitor, Model}: DriftScore (judged windows only, so the drift alarm sees no datum
for a window with too few rows), DriftedFeatures and MonitoredRows; {service: monitor,
Model, Feature}: FeaturePSI for each judged feature and the prediction ("(prediction)"), one
EMF document each (Powertools' single_metric: one dimension set per document).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from modelship import names
from modelship.monitoring.report import DriftReport


class MetricsSink(Protocol):
    def add_dimension(self, name: str, value: str) -> None: ...

    def add_metric(self, name: str, unit: Any, value: float) -> None: ...


# aws_lambda_powertools.metrics.single_metric, or a stand-in in tests.
SingleMetric = Callable[..., contextlib.AbstractContextManager[MetricsSink]]


def model_dimensions(model: str) -> dict[str, str]:
    return {"service": names.MONITOR_SERVICE_NAME, names.METRIC_DIMENSION_MODEL: model}


def record_drift(metrics: MetricsSink, single_metric: SingleMetric, report: DriftReport) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    for name, value in model_dimensions(report.model).items():
        metrics.add_dimension(name, value)
    metrics.add_metric(names.METRIC_MONITORED_ROWS, MetricUnit.Count, report.rows)
    if report.verdict == "insufficient_data":
        return
    metrics.add_metric(names.METRIC_DRIFT_SCORE, MetricUnit.NoUnit, report.score)
    metrics.add_metric(
        names.METRIC_DRIFTED_FEATURES, MetricUnit.Count, len(report.drifted_features)
    )
    for feature in report.features:
        with single_metric(
            name=names.METRIC_FEATURE_PSI,
            unit=MetricUnit.NoUnit,
            value=feature.psi,
            namespace=names.METRICS_NAMESPACE,
            default_dimensions=model_dimensions(report.model),
        ) as metric:
            metric.add_dimension(names.METRIC_DIMENSION_FEATURE, feature.feature)
