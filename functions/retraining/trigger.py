"""Starts a retraining execution for new data in S3, a schedule, or a drift alarm."""

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.names import ENV_MODEL_NAME, ENV_RETRAIN_STATE_MACHINE
from modelship.retraining.trigger import start_for_event

logger = Logger()
sfn = boto3.client("stepfunctions")
model_name = os.environ[ENV_MODEL_NAME]
state_machine_arn = os.environ[ENV_RETRAIN_STATE_MACHINE]


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = start_for_event(sfn, state_machine_arn, model_name, event)
    logger.info("retraining trigger", extra=result)
    return result
