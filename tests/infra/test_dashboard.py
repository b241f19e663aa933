"""Each model's dashboard as synthesized: the body CloudWatch will parse, every graph reading
its own model's series (two models never read each other's), its alarms, the guardrail
thresholds as annotations, and the quotas of a dashboard."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from modelship import names
from modelship.local.dashboard_series import parse_search
from modelship.local.template_checks.cloudwatch import dashboard_body_problems
from tests.infra.template_queries import Synthesized, synthesized

MODELS = ("churn", "churn-forest")
# CloudWatch service quotas: 500 metrics per widget, 2,500 per dashboard; a graph holds at
# most 100 search expressions; an alarm widget 1-100 alarms.
METRICS_PER_WIDGET = 500
METRICS_PER_DASHBOARD = 2500
SEARCHES_PER_GRAPH = 100


@pytest.fixture(scope="module")
def app() -> Synthesized:
    # cdk-nag runs in synth and fails it on any unacknowledged finding.
    models = {"churn": {}, "churn-forest": {"guardrailP99LatencyMs": 250}}
    return synthesized(models=models, guardrailErrorRatePercent=7)


def _rendered(value: Any) -> str:
    """A property's value with each reference spelled <ref:Id> / <arn:Id>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_rendered(part) for part in parts)
    if "Ref" in value:
        return f"<ref:{value['Ref']}>"
    if "Fn::GetAtt" in value:
        logical, attribute = value["Fn::GetAtt"]
        return f"<{attribute.lower()}:{logical}>"
    raise AssertionError(f"unexpected intrinsic {value}")


def _dashboard(template: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    text = _rendered(dashboard["Properties"]["DashboardBody"])
    return dashboard["Properties"]["DashboardName"], json.loads(text), text


def _function(template: dict[str, Any]) -> str:
    (logical,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == names.PREDICT_HANDLER
    ]
    return logical


def _metric_widgets(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [w["properties"] for w in body["widgets"] if w["type"] == "metric"]


def _expressions(body: dict[str, Any]) -> list[str]:
    return [
        entry[-1]["expression"]
        for widget in _metric_widgets(body)
        for entry in widget["metrics"]
        if isinstance(entry[-1], dict) and "expression" in entry[-1]
    ]


def _titled(body: dict[str, Any], fragment: str) -> dict[str, Any]:
    (found,) = [w for w in _metric_widgets(body) if fragment in w["title"]]
    return found


@pytest.mark.parametrize("model", MODELS)
def test_the_dashboard_is_named_for_the_model_and_listed_in_its_directory_entry(
    app: Synthesized, model: str
) -> None:
    template = dict(app.templates())[model]
    raw_name, _body, text = _dashboard(template)
    name = _rendered(raw_name)

    # Dashboards are global to the account: the name carries the Region the stack is in.
    region = "<ref:AWS::Region>"
    assert name == names.dashboard_name(app.stack.deployment.stack_name, model, region)
    (entry,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"]
    # The directory entry names the dashboard as CloudFormation resolves it, Region included.
    assert json.loads(_rendered(entry["Properties"]["Value"]))["dashboard"] == name
    assert dashboard_body_problems(text) == []


def test_dashboard_names_differ_by_region_and_fit_cloudwatchs_limit() -> None:
    longest = names.dashboard_name("s" * 128, "m" * 63, "ap-southeast-5-x")

    assert names.dashboard_name("app-dev", "churn", "eu-west-1") != names.dashboard_name(
        "app-dev", "churn", "us-east-1"
    )
    assert len(longest) <= 255
    assert re.fullmatch(r"[A-Za-z0-9_-]+", names.dashboard_name("app-dev", "c_1", "us-gov-west-1"))


@pytest.mark.parametrize("model", MODELS)
def test_every_search_reads_this_models_exact_series_only(app: Synthesized, model: str) -> None:
    template = dict(app.templates())[model]
    _, body, _ = _dashboard(template)
    function = _function(template)
    searches = [parse_search(e) for e in _expressions(body) if e.startswith("SEARCH(")]

    predict = [s for s in searches if s.namespace == names.METRICS_NAMESPACE]
    lambda_ = [s for s in searches if s.namespace == "AWS/Lambda"]
    assert len(predict) + len(lambda_) == len(searches) >= 8
    for search in predict:
        assert search.terms[names.METRIC_DIMENSION_MODEL] == model
        assert set(search.terms) <= set(search.schema)
    by_version = {s.metric_name for s in predict if "ModelVersion" in s.schema}
    assert by_version == {
        names.METRIC_REQUESTS,
        names.METRIC_PREDICTION_ERRORS,
        names.METRIC_CLIENT_ERRORS,
        names.METRIC_MODEL_LATENCY,
        names.METRIC_CAPTURED_REQUESTS,
        names.METRIC_CAPTURE_FAILURES,
    }
    assert {s.stat for s in predict if s.metric_name == names.METRIC_MODEL_LATENCY} == {
        "p50",
        "p99",
    }
    (psi,) = [s for s in predict if s.metric_name == names.METRIC_FEATURE_PSI]
    assert psi.schema == ("Feature", "Model", "service")
    assert psi.terms["service"] == names.MONITOR_SERVICE_NAME
    for search in lambda_:
        assert search.schema == ("ExecutedVersion", "FunctionName", "Resource")
        assert search.terms == {
            "FunctionName": f"<ref:{function}>",
            "Resource": f"<ref:{function}>:{names.DEFAULT_ALIAS_NAME}",
        }


def test_two_models_never_read_each_others_series(app: Synthesized) -> None:
    templates = dict(app.templates())
    for model, other in (MODELS, MODELS[::-1]):
        _, _, text = _dashboard(templates[model])
        assert f'Model=\\"{model}\\"' in text
        assert f'Model=\\"{other}\\"' not in text
        assert f'"Model","{other}"' not in text
        assert f"<ref:{_function(templates[other])}>" not in text


@pytest.mark.parametrize("model", MODELS)
def test_plain_metrics_are_the_models_alias_and_model_wide_series(
    app: Synthesized, model: str
) -> None:
    template = dict(app.templates())[model]
    _, body, _ = _dashboard(template)
    function = _function(template)
    plain = [
        entry
        for widget in _metric_widgets(body)
        for entry in widget["metrics"]
        if isinstance(entry[0], str)
    ]
    names_of = {entry[1] for entry in plain}

    assert {"Invocations", "Errors", "Throttles", "Duration"} <= names_of
    assert {
        names.METRIC_DRIFT_SCORE,
        names.METRIC_DRIFTED_FEATURES,
        names.METRIC_MONITORED_ROWS,
        names.METRIC_OUT_OF_RANGE_VALUES,
        names.METRIC_NUMERIC_VALUES,
    } <= names_of
    for entry in plain:
        dims = dict(zip(entry[2:-1:2], entry[3:-1:2], strict=True))
        if entry[0] == "AWS/Lambda":
            assert dims == {
                "FunctionName": f"<ref:{function}>",
                "Resource": f"<ref:{function}>:{names.DEFAULT_ALIAS_NAME}",
            }
        else:
            assert dims[names.METRIC_DIMENSION_MODEL] == model
    duration = _titled(body, "duration")
    assert [entry[-1]["stat"] for entry in duration["metrics"]] == ["p50", "p99"]


@pytest.mark.parametrize("model", MODELS)
def test_alarm_widget_lists_the_models_static_alarms(app: Synthesized, model: str) -> None:
    template = dict(app.templates())[model]
    _, body, _ = _dashboard(template)
    (widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    listed = {re.fullmatch(r"<arn:(\w+)>", arn)[1] for arn in widget["properties"]["alarms"]}  # type: ignore[index]
    alarms = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}

    # Every alarm of the model: guardrails, drift, and the rollback and trigger failures.
    assert listed == alarms
    assert any(a.startswith("GuardrailsPredictionErrorRate") for a in listed)
    assert any("DriftAlarm" in a for a in listed)
    assert 1 <= len(listed) <= 100
    (note,) = [w for w in body["widgets"] if w["type"] == "text"]
    assert "Canary alarms are created for each release" in note["properties"]["markdown"]


def test_guardrail_and_drift_thresholds_are_horizontal_annotations(app: Synthesized) -> None:
    templates = dict(app.templates())
    for model, p99 in (("churn", 500.0), ("churn-forest", 250.0)):
        _, body, _ = _dashboard(templates[model])

        def annotations(fragment: str, body: dict[str, Any] = body) -> list[float]:
            return [a["value"] for a in _titled(body, fragment)["annotations"]["horizontal"]]

        assert annotations("p99 model latency") == [p99]
        assert annotations("prediction error rate") == [7]
        assert annotations("drift score") == [names.DEFAULT_DRIFT_PSI_THRESHOLD]


@pytest.mark.parametrize("model", MODELS)
def test_the_body_stays_within_cloudwatchs_limits(app: Synthesized, model: str) -> None:
    _, body, _ = _dashboard(dict(app.templates())[model])
    widgets = _metric_widgets(body)
    per_widget = [len(w["metrics"]) for w in widgets]

    assert len(body["widgets"]) <= 500
    assert max(per_widget) <= METRICS_PER_WIDGET
    assert sum(per_widget) <= METRICS_PER_DASHBOARD
    for widget in widgets:
        searches = [e for e in widget["metrics"] if "SEARCH(" in str(e)]
        assert len(searches) <= SEARCHES_PER_GRAPH
        assert widget["region"] == "<ref:AWS::Region>"
        assert widget["view"] == "timeSeries"
        period = int(widget.get("period", 300))
        assert period in (1, 5, 10, 30) or period % 60 == 0
    for widget in body["widgets"]:
        assert 0 <= widget["x"] <= 23
        assert 1 <= widget["width"] <= 24
