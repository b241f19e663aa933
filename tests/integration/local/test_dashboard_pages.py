"""The local dashboard pages, drawn from what moto's CloudWatch recorded: SEARCH scoped to one
model, percentiles from the raw values, metric math, alarm state changes, escaping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelship.local.dashboard import LocalDashboards, moto_backend
from modelship.local.dashboard_series import UnsupportedExpression, parse_search

BY_VERSION = (
    'SEARCH(\'{modelship,Model,ModelVersion,service} MetricName="%s" '
    'service="predict" Model="churn"\', \'%s\', 60)'
)
ALARM_ARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:modelship-guardrail-fn-live-errors"
BODY: dict[str, Any] = {
    "widgets": [
        {
            "type": "alarm",
            "width": 16,
            "properties": {
                "title": "churn: alarms",
                "alarms": [ALARM_ARN, ALARM_ARN.replace("live-errors", "gone")],
            },
        },
        {"type": "text", "properties": {"markdown": "## <script>alert(1)</script> **canary**"}},
        {
            "type": "metric",
            "properties": {
                "title": "requests <by version>",
                "metrics": [[{"expression": BY_VERSION % ("Requests", "Sum"), "period": 60}]],
                "period": 60,
                "stat": "Sum",
            },
        },
        {
            "type": "metric",
            "properties": {
                "title": "p99 latency",
                "metrics": [[{"expression": BY_VERSION % ("ModelLatency", "p99"), "period": 60}]],
                "annotations": {"horizontal": [{"value": 500, "label": "guardrail 500 ms"}]},
                "period": 60,
                "stat": "p99",
            },
        },
        {
            "type": "metric",
            "properties": {
                "title": "error rate",
                "metrics": [
                    [
                        {
                            "expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
                            "label": "rate",
                        }
                    ],
                    ["modelship", "Requests", "Model", "churn", "service", "predict",
                     {"id": "requests", "visible": False}],
                    ["modelship", "PredictionErrors", ".", ".", ".", ".",
                     {"id": "errors", "visible": False}],
                ],
                "period": 60,
                "stat": "Sum",
            },
        },
    ]
}  # fmt: skip


def _dims(model: str, version: str | None = None) -> list[dict[str, str]]:
    dims = [{"Name": "service", "Value": "predict"}, {"Name": "Model", "Value": model}]
    if version:
        dims.append({"Name": "ModelVersion", "Value": version})
    return dims


@pytest.fixture
def pages() -> Iterator[tuple[LocalDashboards, Any]]:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        cloudwatch.put_dashboard(DashboardName="app-churn", DashboardBody=json.dumps(BODY))
        # Times from when the test runs, not when the module was imported (collection: under
        # pytest-xdist it can be many minutes earlier).
        minute = datetime.now(UTC) - timedelta(minutes=2)
        data = [
            # churn v1: 3 requests, churn-forest's (same version name) and a model-wide
            # series without ModelVersion must not appear in churn's search.
            *[("Requests", _dims("churn", "v1"), 1.0)] * 3,
            *[("Requests", _dims("churn-forest", "v1"), 1.0)] * 5,
            ("Requests", _dims("churn"), 3.0),
            ("PredictionErrors", _dims("churn"), 1.0),
            *[("ModelLatency", _dims("churn", "v1"), float(ms)) for ms in range(1, 101)],
        ]
        cloudwatch.put_metric_data(
            Namespace="modelship",
            MetricData=[
                {"MetricName": n, "Dimensions": d, "Value": v, "Timestamp": minute}
                for n, d, v in data
            ],
        )
        cloudwatch.put_metric_alarm(
            AlarmName="modelship-guardrail-fn-live-errors",
            Namespace="AWS/Lambda",
            MetricName="Errors",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
        )
        for state in ("ALARM", "OK"):
            cloudwatch.set_alarm_state(
                AlarmName="modelship-guardrail-fn-live-errors",
                StateValue=state,
                StateReason=f"went {state}",
            )
        yield LocalDashboards(moto_backend, time_scale=1.0), cloudwatch


def _json(pages: LocalDashboards, path: str) -> tuple[int, Any]:
    answer = pages.handle("GET", path, "")
    assert answer is not None
    return answer.status, json.loads(answer.body)


def test_searches_read_only_the_models_series_with_statistics_from_the_raw_values(
    pages: tuple[LocalDashboards, Any],
) -> None:
    status, page = _json(pages[0], "/_local/dashboards/app-churn.json")

    assert status == 200
    _alarms, text, requests, latency, rate = page["widgets"]
    (series,) = requests["series"]
    assert series["dimensions"] == {"service": "predict", "Model": "churn", "ModelVersion": "v1"}
    assert series["label"] == "v1"
    assert sum(series["values"]) == 3
    # p99 by nearest rank over the 100 raw values 1..100 (moto alone has no percentiles)
    assert latency["series"][0]["values"] == [99.0]
    assert latency["annotations"] == [{"value": 500.0, "label": "guardrail 500 ms"}]
    # metric math over the hidden metrics of the widget ("." repeats the entry above)
    assert [s["label"] for s in rate["series"]] == ["rate"]
    assert rate["series"][0]["values"] == [pytest.approx(100 / 3)]
    assert text["markdown"].startswith("## <script>")


def test_alarm_widget_shows_each_state_the_alarm_entered_in_the_window(
    pages: tuple[LocalDashboards, Any],
) -> None:
    _, page = _json(pages[0], "/_local/dashboards/app-churn.json")

    live, gone = page["widgets"][0]["alarms"]
    assert live["state"] == "OK"
    assert [c["state"] for c in live["changes"]] == ["OK", "ALARM", "OK"]
    assert live["changes"][1]["reason"] == "went ALARM"
    assert gone["state"] == "NOT FOUND"


def test_the_html_page_is_self_contained_escaped_and_refreshes(
    pages: tuple[LocalDashboards, Any],
) -> None:
    answer = pages[0].handle("GET", "/_local/dashboards/app-churn", "minutes=30")
    assert answer is not None
    assert answer.status == 200
    html = answer.body.decode()

    assert answer.content_type.startswith("text/html")
    assert '<meta http-equiv="refresh"' in html
    assert "<svg" in html
    assert "<polyline" in html or "<circle" in html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "requests &lt;by version&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "modelship-guardrail-fn-live-errors" in html
    assert "ALARM at" in html


def test_index_unknown_names_bad_windows_and_other_methods(
    pages: tuple[LocalDashboards, Any],
) -> None:
    local = pages[0]
    index = local.handle("GET", "/_local/dashboards/", "")
    assert index is not None
    assert 'href="app-churn"' in index.body.decode()
    assert _json(local, "/_local/dashboards/nope.json")[0] == 404
    bad = local.handle("GET", "/_local/dashboards/app-churn", "minutes=abc")
    assert bad is not None
    assert bad.status == 400
    assert b"minutes" in bad.body
    posted = local.handle("POST", "/_local/dashboards/app-churn", "")
    assert posted is not None
    assert posted.status == 405
    assert local.handle("GET", "/predict", "") is None


def test_an_old_datapoint_is_outside_the_window(pages: tuple[LocalDashboards, Any]) -> None:
    local, cloudwatch = pages
    cloudwatch.put_metric_data(
        Namespace="modelship",
        MetricData=[
            {
                "MetricName": "Requests",
                "Dimensions": _dims("churn", "v0"),
                "Value": 1.0,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=90),
            }
        ],
    )
    _, hour = _json(local, "/_local/dashboards/app-churn.json")
    day = local.evaluate("app-churn", BODY, minutes=120)

    assert [s["label"] for s in hour["widgets"][2]["series"]] == ["v1"]
    assert [s["label"] for s in day["widgets"][2]["series"]] == ["v0", "v1"]


def test_search_subset_refuses_what_it_does_not_evaluate() -> None:
    parsed = parse_search(BY_VERSION % ("Requests", "Sum"))
    assert parsed.namespace == "modelship"
    assert parsed.schema == ("Model", "ModelVersion", "service")
    assert parsed.terms == {"service": "predict", "Model": "churn"}
    assert (parsed.metric_name, parsed.stat, parsed.period) == ("Requests", "Sum", 60)
    with pytest.raises(UnsupportedExpression, match="exact"):
        parse_search("SEARCH('{modelship,Model} churn', 'Sum', 60)")
    with pytest.raises(UnsupportedExpression, match="statistic"):
        parse_search("SEARCH('{modelship,Model} Model=\"churn\"', 'IQM', 60)")
