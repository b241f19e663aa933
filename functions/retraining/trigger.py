"""Starts a retraining execution for new data in S3, a schedule, or a drift alarm."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.env import load
from modelship.retraining.settings import TriggerSettings
from modelship.retraining.trigger import start_for_event

settings = load(TriggerSettings)
logger = Logger()
sfn = boto3.client("stepfunctions")


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = start_for_event(sfn, settings.state_machine_arn, settings.model_name, event)
    logger.info("retraining trigger", extra=result)
    return result
