"""One model's CloudWatch dashboard: traffic, errors and latency by model version, the `live`
alias's Lambda metrics, the model's static alarms, drift and data capture.

Model versions come and go (a canary appears for a bake and is gone), so the per-version
graphs are SEARCH expressions over the exact dimension set the predict function emits,
{service, Model, ModelVersion}, with `Model="<name>"` as an exact match: a metric schema
matches only metrics with exactly those dimension names, and a quoted term only the whole
value, so `churn` never reads `churn-forest`'s series (CloudWatch User Guide, "CloudWatch
search expression syntax"). Canary alarms are created per release at run time and cannot be
listed here; a text widget says where a canary shows instead.

Quotas this stays within (CloudWatch service quotas; Dashboard Body Structure): up to 500
widgets, 500 metrics per widget and 2,500 per dashboard (a SEARCH counts the series it
returns, at most 500), 100 alarms per alarm widget, a search query of at most 1,024
characters. tests/infra/test_dashboard.py checks the synthesized body against them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from modelship import names

SEARCH_PERIOD_SECONDS_DRIFT = 3600  # the monitor runs hourly by default
CAPTURE_PERIOD_SECONDS = 300
WIDGET_HEIGHT = 6
CANARY_NOTE = (
    "## {model}: canaries and rollbacks\n"
    "Canary alarms are created for each release when its canary starts and deleted when it "
    "ends, so they are not in the alarm list. A canary shows as its model version's series "
    "in the graphs by version: its error rate is judged against "
    "**{error_rate:g}%** and its p99 model latency against **{p99:g} ms** (the horizontal "
    "lines) over **{period}-second** periods. A rollback shows as the series stopping and "
    "the `live` alias's traffic returning to the stable version. "
    "`modelship status` lists the canary alarms; docs/operations.md explains them."
)


def search(
    schema: Sequence[str], metric: str, terms: dict[str, str], stat: str, period: int
) -> str:
    """SEARCH over the exact dimension set `schema` (namespace first) with exact-match terms.
    Exact matches escape `"`, `\\`, `(` and `)` with a backslash."""

    def exact(value: str) -> str:
        for special in ("\\", '"', "(", ")"):
            value = value.replace(special, "\\" + special)
        return f'"{value}"'

    wanted = " ".join(f"{key}={exact(value)}" for key, value in terms.items())
    return (
        f"SEARCH('{{{','.join(schema)}}} MetricName={exact(metric)} {wanted}', '{stat}', {period})"
    )


class ModelDashboard(Construct):
    """The dashboard of one model, named names.dashboard_name(stack, model, region)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stack_name: str,
        model_name: str,
        function: lambda_.IFunction,
        alias: lambda_.IAlias,
        alarms: Sequence[cloudwatch.IAlarm],
        drift_alarm: cloudwatch.IAlarm | None = None,
        period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS,
        error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT,
        p99_latency_ms: float = names.DEFAULT_GUARDRAIL_P99_LATENCY_MS,
        # None: the model has no drift monitor (it captures nothing), so no drift widgets.
        drift_psi_threshold: float | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.model_name = model_name
        self.period = period_seconds
        # The stack's Region: a token ({"Ref": "AWS::Region"}) in an environment-agnostic
        # stack, resolved by CloudFormation in the directory entry as in the dashboard.
        self.dashboard_name = names.dashboard_name(stack_name, model_name, Stack.of(self).region)
        listed = [*alarms, *([drift_alarm] if drift_alarm is not None else [])]
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.dashboard_name)
        note = CANARY_NOTE.format(
            model=model_name, error_rate=error_rate_percent, p99=p99_latency_ms, period=self.period
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title=f"{model_name}: alarms (guardrails, drift, operations)",
                alarms=listed,
                width=16,
                height=WIDGET_HEIGHT,
                sort_by=cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
            ),
            cloudwatch.TextWidget(markdown=note, width=8, height=WIDGET_HEIGHT),
        )
        self.dashboard.add_widgets(
            self._by_version("requests by model version", names.METRIC_REQUESTS, "Sum"),
            self._by_version(
                "prediction errors (5xx) by model version", names.METRIC_PREDICTION_ERRORS, "Sum"
            ),
            self._by_version(
                "client errors (4xx) by model version", names.METRIC_CLIENT_ERRORS, "Sum"
            ),
        )
        self.dashboard.add_widgets(
            self._error_rate(error_rate_percent),
            self._by_version(
                "p50 model latency (ms) by model version", names.METRIC_MODEL_LATENCY, "p50"
            ),
            self._by_version(
                "p99 model latency (ms) by model version",
                names.METRIC_MODEL_LATENCY,
                "p99",
                cloudwatch.HorizontalAnnotation(
                    value=p99_latency_ms, label=f"canary guardrail {p99_latency_ms:g} ms"
                ),
            ),
        )
        self.dashboard.add_widgets(*self._alias_widgets(function, alias))
        if drift_psi_threshold is not None:
            self.dashboard.add_widgets(*self._drift_widgets(drift_psi_threshold))
        self.dashboard.add_widgets(*self._capture_widgets())

    # ---- the predict function's own metrics

    def _predict_search(self, metric: str, stat: str, period: int, *, by_version: bool) -> str:
        schema = [names.METRICS_NAMESPACE, names.METRIC_DIMENSION_MODEL, "service"]
        if by_version:
            schema.insert(2, names.METRIC_DIMENSION_MODEL_VERSION)
        terms = {
            "service": names.PREDICT_SERVICE_NAME,
            names.METRIC_DIMENSION_MODEL: self.model_name,
        }
        return search(schema, metric, terms, stat, period)

    def _by_version(
        self,
        title: str,
        metric: str,
        stat: str,
        annotation: cloudwatch.HorizontalAnnotation | None = None,
        period: int | None = None,
        width: int = 8,
    ) -> cloudwatch.GraphWidget:
        period = period or self.period
        return cloudwatch.GraphWidget(
            title=f"{self.model_name}: {title}",
            left=[
                cloudwatch.SearchExpression(
                    expression=self._predict_search(metric, stat, period, by_version=True),
                    label="",
                    period=Duration.seconds(period),
                )
            ],
            left_annotations=[annotation] if annotation else None,
            statistic=stat,
            period=Duration.seconds(period),
            width=width,
            height=WIDGET_HEIGHT,
        )

    def _model_metric(
        self, metric: str, period: int, stat: str = "Sum", service: str = names.PREDICT_SERVICE_NAME
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=names.METRICS_NAMESPACE,
            metric_name=metric,
            dimensions_map={"service": service, names.METRIC_DIMENSION_MODEL: self.model_name},
            statistic=stat,
            period=Duration.seconds(period),
            label=metric,
        )

    def _error_rate(self, threshold: float) -> cloudwatch.GraphWidget:
        period = self.period
        rate = cloudwatch.MathExpression(
            expression="IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)",
            using_metrics={
                "errors": self._model_metric(names.METRIC_PREDICTION_ERRORS, period),
                "requests": self._model_metric(names.METRIC_REQUESTS, period),
            },
            label="prediction error rate (%), all versions",
            period=Duration.seconds(period),
        )
        return cloudwatch.GraphWidget(
            title=f"{self.model_name}: prediction error rate (%)",
            left=[rate],
            left_annotations=[
                cloudwatch.HorizontalAnnotation(
                    value=threshold, label=f"guardrail {threshold:g}% (canary and all versions)"
                )
            ],
            width=8,
            height=WIDGET_HEIGHT,
        )

    # ---- the live alias, as Lambda records it

    def _alias_widgets(
        self, function: lambda_.IFunction, alias: lambda_.IAlias
    ) -> list[cloudwatch.IWidget]:
        period = Duration.seconds(self.period)
        name = function.function_name
        resource = f"{name}:{alias.alias_name}"
        alias_metrics = [
            alias.metric_invocations(period=period, statistic="Sum", label="Invocations"),
            alias.metric_errors(period=period, statistic="Sum", label="Errors"),
            alias.metric_throttles(period=period, statistic="Sum", label="Throttles"),
        ]
        by_version = [
            cloudwatch.SearchExpression(
                expression=search(
                    ["AWS/Lambda", "ExecutedVersion", "FunctionName", "Resource"],
                    metric,
                    {"FunctionName": name, "Resource": resource},
                    stat,
                    self.period,
                ),
                label="",
                period=period,
            )
            for metric, stat in (("Invocations", "Sum"), ("Errors", "Sum"))
        ]
        return [
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: live alias invocations, errors, throttles",
                left=alias_metrics,
                width=8,
                height=WIDGET_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: live alias duration (ms)",
                left=[
                    alias.metric_duration(period=period, statistic="p50", label="p50"),
                    alias.metric_duration(period=period, statistic="p99", label="p99"),
                ],
                width=8,
                height=WIDGET_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: live alias invocations and errors by executed version",
                left=by_version,
                width=8,
                height=WIDGET_HEIGHT,
            ),
        ]

    # ---- drift (the scheduled monitor) and data capture

    def _drift_widgets(self, threshold: float) -> list[cloudwatch.IWidget]:
        period = SEARCH_PERIOD_SECONDS_DRIFT
        monitor = names.MONITOR_SERVICE_NAME
        per_feature = search(
            [
                names.METRICS_NAMESPACE,
                names.METRIC_DIMENSION_FEATURE,
                names.METRIC_DIMENSION_MODEL,
                "service",
            ],
            names.METRIC_FEATURE_PSI,
            {"service": monitor, names.METRIC_DIMENSION_MODEL: self.model_name},
            "Maximum",
            period,
        )
        return [
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: drift score (max PSI of the drifting features)",
                left=[self._model_metric(names.METRIC_DRIFT_SCORE, period, "Maximum", monitor)],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=threshold, label=f"drift alarm: PSI {threshold:g}"
                    )
                ],
                width=8,
                height=WIDGET_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: PSI per feature",
                left=[
                    cloudwatch.SearchExpression(
                        expression=per_feature, label="", period=Duration.seconds(period)
                    )
                ],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=threshold, label="PSI")],
                width=8,
                height=WIDGET_HEIGHT,
            ),
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: drifted features and monitored rows",
                left=[
                    self._model_metric(names.METRIC_DRIFTED_FEATURES, period, "Maximum", monitor)
                ],
                right=[self._model_metric(names.METRIC_MONITORED_ROWS, period, "Sum", monitor)],
                width=8,
                height=WIDGET_HEIGHT,
            ),
        ]

    def _capture_widgets(self) -> list[cloudwatch.IWidget]:
        period = CAPTURE_PERIOD_SECONDS
        share = cloudwatch.MathExpression(
            expression="IF(numeric > 0, 100 * outside / numeric, 0)",
            using_metrics={
                "outside": self._model_metric(names.METRIC_OUT_OF_RANGE_VALUES, period),
                "numeric": self._model_metric(names.METRIC_NUMERIC_VALUES, period),
            },
            label="numeric inputs outside the training range (%)",
            period=Duration.seconds(period),
        )
        return [
            self._by_version(
                "captured requests by model version",
                names.METRIC_CAPTURED_REQUESTS,
                "Sum",
                period=period,
                width=8,
            ),
            self._by_version(
                "capture failures by model version",
                names.METRIC_CAPTURE_FAILURES,
                "Sum",
                period=period,
                width=8,
            ),
            cloudwatch.GraphWidget(
                title=f"{self.model_name}: inputs outside the training range (%)",
                left=[share],
                width=8,
                height=WIDGET_HEIGHT,
            ),
        ]
