"""Rollback function: a guardrail alarm in ALARM, or a failed, stopped or timed-out rollout,
takes the candidate's traffic away and records why in the release history."""

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.env import load
from modelship.releases.rollback import handle_rollback_event, parse_rollback_event
from modelship.releases.settings import ReleaseSettings, releases_for

settings = load(ReleaseSettings)
logger = Logger()
releases = releases_for(settings, boto3.client)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = handle_rollback_event(releases, parse_rollback_event(event))
    logger.info(
        "rollback event handled", extra={"changed": outcome.changed, "detail": outcome.message}
    )
    return {"changed": outcome.changed, "message": outcome.message}
