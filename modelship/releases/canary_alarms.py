"""Guardrail alarms of a canary: error rate and p99 latency of the candidate's own model version.

The predict function scores every request under its Model and ModelVersion dimensions, so the
candidate's numbers are not diluted by the stable version's traffic: at 5% weight a candidate
failing 20% of its requests moves the alias-wide error rate by only 1%, but its own rate reads
20%. The Model dimension keeps another model of the deployment, whose versions may carry the
same ModelVersion values, out of the candidate's numbers. The alarms read exactly the dimension
set {service, Model, ModelVersion} that modelship.serving.observability emits.

Every guardrail alarm of a function is named `modelship-guardrail-<function>-...`; the
EventBridge rule that triggers the rollback function matches that prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from modelship import names
from modelship.errors import GuardrailTripped


@dataclass(frozen=True)
class GuardrailThresholds:
    error_rate_percent: float = names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT
    p99_latency_ms: float = names.DEFAULT_GUARDRAIL_P99_LATENCY_MS
    period_seconds: int = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS
    evaluation_periods: int = 1
    min_errors: int = names.DEFAULT_CANARY_ALARM_MIN_ERRORS

    def attribution_window(self) -> timedelta:
        """How long after a canary rollback an alarm may still be counting its errors: the
        breaching period and the one in progress."""
        return timedelta(seconds=2 * self.period_seconds)


# Every guardrail alarm of this function starts with this; the formula lives in names, where
# the CDK app's alarm rule reads it too.
alarm_prefix = names.guardrail_alarm_prefix


def canary_alarm_prefix(function_name: str, lambda_version: str) -> str:
    return f"{alarm_prefix(function_name)}{names.CANARY_ALARM_MARKER.lstrip('-')}{lambda_version}-"


def canary_alarm_names(function_name: str, lambda_version: str) -> tuple[str, str]:
    prefix = canary_alarm_prefix(function_name, lambda_version)
    return f"{prefix}error-rate", f"{prefix}p99-latency"


def canary_version_of(alarm_name: str, function_name: str) -> str | None:
    """The Lambda version a canary alarm guards, or None for a static (alias) alarm."""
    head = f"{alarm_prefix(function_name)}{names.CANARY_ALARM_MARKER.lstrip('-')}"
    if not alarm_name.startswith(head):
        return None
    version, _, _ = alarm_name[len(head) :].partition("-")
    return version if version.isdigit() else None


def canary_dimensions(model_name: str, model_version: str) -> list[dict[str, str]]:
    """The metric dimensions of one model version's requests, as the predict function emits."""
    return [
        {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
        {"Name": names.METRIC_DIMENSION_MODEL, "Value": model_name},
        {"Name": names.METRIC_DIMENSION_MODEL_VERSION, "Value": model_version},
    ]


def _stat(
    query_id: str, metric: str, dimensions: list[dict[str, str]], period: int
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": names.METRICS_NAMESPACE,
                "MetricName": metric,
                "Dimensions": dimensions,
            },
            "Period": period,
            "Stat": "Sum",
        },
        "ReturnData": False,
    }


def create_canary_alarms(
    cloudwatch: Any,
    function_name: str,
    lambda_version: str,
    *,
    model_name: str,
    model_version: str,
    thresholds: GuardrailThresholds,
) -> tuple[str, str]:
    """Creates (or updates, put_metric_alarm is an upsert) the candidate's two alarms."""
    error_alarm, latency_alarm = canary_alarm_names(function_name, lambda_version)
    description = (
        f"modelship canary guardrail: {function_name} version {lambda_version} "
        f"(model {model_name} {model_version})"
    )
    period = thresholds.period_seconds
    dimensions = canary_dimensions(model_name, model_version)
    cloudwatch.put_metric_alarm(
        AlarmName=error_alarm,
        AlarmDescription=description + f", error rate > {thresholds.error_rate_percent:g}% "
        f"(with at least {thresholds.min_errors} failed requests in a period)",
        Metrics=[
            _stat("errors", names.METRIC_PREDICTION_ERRORS, dimensions, period),
            _stat("requests", names.METRIC_REQUESTS, dimensions, period),
            {
                "Id": "error_rate",
                # Fewer failures than min_errors in a period is not a gross failure: 0%.
                "Expression": (
                    f"IF(errors >= {thresholds.min_errors}, 100 * errors / requests, 0)"
                ),
                "Label": "candidate error rate (%)",
                "ReturnData": True,
            },
        ],
        Threshold=thresholds.error_rate_percent,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=thresholds.evaluation_periods,
        DatapointsToAlarm=thresholds.evaluation_periods,
        TreatMissingData="notBreaching",
        ActionsEnabled=False,
    )
    cloudwatch.put_metric_alarm(
        AlarmName=latency_alarm,
        AlarmDescription=description + f", p99 model latency > {thresholds.p99_latency_ms:g} ms",
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.METRIC_MODEL_LATENCY,
        Dimensions=dimensions,
        ExtendedStatistic="p99",
        Period=period,
        Threshold=thresholds.p99_latency_ms,
        ComparisonOperator="GreaterThanThreshold",
        EvaluationPeriods=thresholds.evaluation_periods,
        DatapointsToAlarm=thresholds.evaluation_periods,
        TreatMissingData="notBreaching",
        Unit="Milliseconds",
        ActionsEnabled=False,
    )
    return error_alarm, latency_alarm


def delete_canary_alarms(cloudwatch: Any, function_name: str, lambda_version: str) -> None:
    """Deleting alarms that do not exist is not an error, so this is safe to repeat."""
    cloudwatch.delete_alarms(AlarmNames=list(canary_alarm_names(function_name, lambda_version)))


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str
    reason: str

    @property
    def firing(self) -> bool:
        return self.state == "ALARM"


def alarm_states(cloudwatch: Any, function_name: str) -> list[AlarmState]:
    """Every guardrail alarm of the function (canary and static), with its state."""
    states: list[AlarmState] = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(
        AlarmNamePrefix=alarm_prefix(function_name), AlarmTypes=["MetricAlarm"]
    ):
        for alarm in page.get("MetricAlarms", []):
            states.append(
                AlarmState(alarm["AlarmName"], alarm["StateValue"], alarm.get("StateReason", ""))
            )
    return sorted(states, key=lambda s: s.name)


def firing_for(states: list[AlarmState], function_name: str, candidate: str) -> list[AlarmState]:
    """Alarms that should stop a rollout of `candidate`: its own and the static ones."""
    return [
        s
        for s in states
        if s.firing and canary_version_of(s.name, function_name) in (None, candidate)
    ]


def check_guardrails(cloudwatch: Any, function_name: str, candidate: str) -> list[AlarmState]:
    """Raises GuardrailTripped if a canary alarm of `candidate` or a static alarm fires."""
    states = alarm_states(cloudwatch, function_name)
    firing = firing_for(states, function_name, candidate)
    if firing:
        raise GuardrailTripped(
            "guardrail alarm in ALARM: "
            + "; ".join(f"{a.name} ({a.reason})" if a.reason else a.name for a in firing)
        )
    return states
