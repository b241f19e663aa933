"""Two models of one deployment emit the same metrics with equal ModelVersion values; the
emulator's alarm evaluation reads each alarm's full dimension set (service, Model[,
ModelVersion]), as CloudWatch does, so one model's failures never trip the other's alarms."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelship import names
from modelship.local.alarms import alarm_datapoints, evaluate_alarms
from modelship.local.metrics import MetricsPublisher, emf_metric_data
from modelship.local.moto_patches import ordered_dimensions


def _emf(model: str, version: str, errors: float) -> dict[str, Any]:
    """One predict invocation's EMF document: both dimension sets carry the model."""
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": names.METRICS_NAMESPACE,
                    "Dimensions": [
                        [
                            "service",
                            names.METRIC_DIMENSION_MODEL,
                            names.METRIC_DIMENSION_MODEL_VERSION,
                        ],
                        ["service", names.METRIC_DIMENSION_MODEL],
                    ],
                    "Metrics": [
                        {"Name": names.METRIC_REQUESTS, "Unit": "Count"},
                        {"Name": names.METRIC_PREDICTION_ERRORS, "Unit": "Count"},
                    ],
                }
            ],
        },
        "service": names.PREDICT_SERVICE_NAME,
        names.METRIC_DIMENSION_MODEL: model,
        names.METRIC_DIMENSION_MODEL_VERSION: version,
        names.METRIC_REQUESTS: 1.0,
        names.METRIC_PREDICTION_ERRORS: errors,
    }


def _alarm(cloudwatch: Any, name: str, dimensions: dict[str, str]) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.METRIC_PREDICTION_ERRORS,
        Dimensions=[{"Name": k, "Value": v} for k, v in dimensions.items()],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
    )


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws(), ordered_dimensions():
        yield boto3.client("cloudwatch", region_name="us-east-1")


def test_a_models_failing_canary_trips_only_its_own_alarms(cloudwatch: Any) -> None:
    # Given canary and model-wide alarms for two models whose candidates are both "v2"
    service = {"service": names.PREDICT_SERVICE_NAME}
    for model in ("churn", "churn-forest"):
        by_model = {**service, names.METRIC_DIMENSION_MODEL: model}
        _alarm(cloudwatch, f"{model}-errors", by_model)
        _alarm(
            cloudwatch,
            f"{model}-canary-v2",
            {**by_model, names.METRIC_DIMENSION_MODEL_VERSION: "v2"},
        )

    # When churn's v2 fails every request and churn-forest's v2 answers every one
    publisher = MetricsPublisher(cloudwatch)
    for _ in range(5):
        publisher.put(emf_metric_data(_emf("churn", "v2", errors=1.0)))
        publisher.put(emf_metric_data(_emf("churn-forest", "v2", errors=0.0)))
    evaluate_alarms(cloudwatch)

    # Then only churn's alarms go to ALARM; churn-forest's see their own zero errors
    assert _states(cloudwatch) == {
        "churn-errors": "ALARM",
        "churn-canary-v2": "ALARM",
        "churn-forest-errors": "OK",
        "churn-forest-canary-v2": "OK",
    }
    forest = _described(cloudwatch, "churn-forest-canary-v2")
    assert alarm_datapoints(cloudwatch, forest, _window_end()) == [0.0]


def test_an_alarm_without_the_model_dimension_sees_no_model_metrics(cloudwatch: Any) -> None:
    # A metric is its whole dimension set: {service, ModelVersion} is not {service, Model,
    # ModelVersion}, so an alarm written before the Model dimension existed sees nothing.
    _alarm(
        cloudwatch,
        "versions-only",
        {"service": names.PREDICT_SERVICE_NAME, names.METRIC_DIMENSION_MODEL_VERSION: "v2"},
    )
    MetricsPublisher(cloudwatch).put(emf_metric_data(_emf("churn", "v2", errors=1.0)))

    evaluate_alarms(cloudwatch)

    alarm = _described(cloudwatch, "versions-only")
    assert alarm_datapoints(cloudwatch, alarm, _window_end()) == [None]
    assert alarm["StateValue"] == "OK"


def _window_end() -> datetime:
    # As evaluate_alarms ends its window: timestamps travel with whole seconds.
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)


def _described(cloudwatch: Any, name: str) -> dict[str, Any]:
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(alarm)


def _states(cloudwatch: Any) -> dict[str, str]:
    alarms = cloudwatch.describe_alarms()["MetricAlarms"]
    return {a["AlarmName"]: a["StateValue"] for a in alarms}
