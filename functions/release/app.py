"""Release task function: one step of the release state machine (apply a weight, check the
guardrails, promote, roll back), chosen by the task input's `action`."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.env import load
from modelship.releases.rollout import RolloutTask, perform_task
from modelship.releases.settings import ReleaseSettings, releases_for

settings = load(ReleaseSettings)
logger = Logger()
releases = releases_for(settings, boto3.client)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = perform_task(releases, RolloutTask.model_validate(event))
    logger.info("release task done", extra={"task": result})
    return result
