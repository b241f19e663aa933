"""Drift monitor: on its schedule, judges the captures of the live model version since the
last judged window against its training profile, writes the report, emits the metrics the
drift alarm reads."""

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.env import load
from modelship.monitoring.monitor import DriftMonitor
from modelship.monitoring.observability import record_drift
from modelship.monitoring.settings import MonitorSettings

settings = load(MonitorSettings)
logger = Logger()
metrics = Metrics()
monitor = DriftMonitor(settings, s3=boto3.client("s3"), lambda_client=boto3.client("lambda"))


@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The window ends at the clock's now, not at the event's scheduled time: a late or
    # repeated delivery judges what has arrived by then.
    run = monitor.run(datetime.now(UTC))
    record_drift(metrics, single_metric, run.report)
    summary = run.summary()
    logger.info("drift monitor run", extra=summary)
    return summary
