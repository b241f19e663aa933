"""The drift monitor's EMF output, read back the way the emulator (and CloudWatch) reads it:
the score only for a judged window, each feature's PSI under its own Feature dimension."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools import Metrics, single_metric

from modelship import names
from modelship.local.metrics import emf_metric_data
from modelship.monitoring.observability import record_drift
from modelship.monitoring.report import DriftReport, FeatureDrift

T = datetime(2026, 3, 14, tzinfo=UTC)


def _feature(name: str, psi: float, drifted: bool) -> FeatureDrift:
    return FeatureDrift(
        feature=name,
        kind="numeric",
        rows=300,
        psi=psi,
        test="ks",
        statistic=0.3,
        p_value=1e-6 if drifted else 0.5,
        significant=drifted,
        drifted=drifted,
        bins=["a"],
        expected=[1.0],
        observed=[1.0],
    )


def _report(verdict: str, features: list[FeatureDrift]) -> DriftReport:
    return DriftReport(
        model="churn",
        model_version="v1",
        window_start=T,
        window_end=T,
        requests=300,
        rows=300,
        verdict=verdict,  # type: ignore[arg-type]
        score=max((f.psi for f in features if f.drifted), default=0.0),
        drifted_features=[f.feature for f in features if f.drifted],
        features=features,
        not_captured=[],
        thresholds={"psi": 0.2, "p_value": 0.01, "min_rows": 200.0},
    )


def _emitted(capsys: pytest.CaptureFixture[str], report: DriftReport) -> list[dict[str, Any]]:
    metrics = Metrics(namespace=names.METRICS_NAMESPACE, service=names.MONITOR_SERVICE_NAME)
    record_drift(metrics, single_metric, report)
    metrics.flush_metrics()
    lines = capsys.readouterr().out.splitlines()
    documents = [json.loads(line) for line in lines if "_aws" in line]
    data = [datum for document in documents for _, datum in emf_metric_data(document)]
    return [
        {
            "name": d["MetricName"],
            "value": d["Value"],
            "dimensions": {x["Name"]: x["Value"] for x in d["Dimensions"]},
        }
        for d in data
    ]


def test_a_judged_window_emits_its_score_and_each_features_psi(
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = _report(
        "drift",
        [_feature("monthly_charges", 0.9, True), _feature(names.PREDICTION_FEATURE, 0.05, False)],
    )

    emitted = _emitted(capsys, report)

    model = {"service": "monitor", "Model": "churn"}
    assert {"name": "DriftScore", "value": 0.9, "dimensions": model} in emitted
    assert {"name": "DriftedFeatures", "value": 1.0, "dimensions": model} in emitted
    assert {"name": "MonitoredRows", "value": 300.0, "dimensions": model} in emitted
    psi = [e for e in emitted if e["name"] == "FeaturePSI"]
    assert psi == [
        {"name": "FeaturePSI", "value": 0.9, "dimensions": {**model, "Feature": "monthly_charges"}},
        {"name": "FeaturePSI", "value": 0.05, "dimensions": {**model, "Feature": "(prediction)"}},
    ]


def test_a_window_not_judged_emits_no_score_for_the_alarm_to_read(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emitted = _emitted(capsys, _report("insufficient_data", []))

    assert [e["name"] for e in emitted] == ["MonitoredRows"]
