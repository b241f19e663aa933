"""Retraining state machine tasks. Each handler takes the run state and returns it with its
own part added; the logic lives in modelship.retraining.tasks and modelship.releases.releases."""

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from modelship.env import load
from modelship.releases.releases import Releases
from modelship.releases.settings import ReleaseSettings, releases_for
from modelship.retraining.run_state import RunState, notify_outcome
from modelship.retraining.settings import RetrainingSettings
from modelship.retraining.tasks import Retraining

settings = load(RetrainingSettings)
logger = Logger()
s3 = boto3.client("s3")
lambda_client = boto3.client("lambda")


@cache
def _releases() -> Releases:
    """Only CreateRelease needs it: built on first use, then kept for the process."""
    return releases_for(load(ReleaseSettings), boto3.client)


@cache
def _sns() -> Any:
    return boto3.client("sns")


def _retraining(state: RunState) -> Retraining:
    return Retraining(settings.with_overrides(state.options), s3=s3, lambda_client=lambda_client)


@logger.inject_lambda_context
def prepare(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.from_event(event)
    return state.merge(
        _retraining(state).prepare(state.run_id, state.dataset_key, state.data.get("steps"))
    )


@logger.inject_lambda_context
def train(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.from_event(event)
    return state.merge({"challenger": _retraining(state).train_candidate(state.data)})


@logger.inject_lambda_context
def collect_candidate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SageMaker backend: files the training job's output as the challenger."""
    state = RunState.from_event(event)
    return state.merge({"challenger": _retraining(state).collect_sagemaker_candidate(state.data)})


@logger.inject_lambda_context
def evaluate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.from_event(event)
    return state.merge({"evaluation": _retraining(state).evaluate_candidate(state.data)})


@logger.inject_lambda_context
def gate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.from_event(event)
    decision = _retraining(state).gate(state.data)
    logger.info("gate decision", extra=decision)
    return state.merge({"decision": decision})


@logger.inject_lambda_context
def register(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = RunState.from_event(event)
    return state.merge({"registered": _retraining(state).register(state.data)})


@logger.inject_lambda_context
def create_release(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Publishes a Lambda version pinned to the registered model: the canary candidate."""
    state = RunState.from_event(event)
    return state.merge(_retraining(state).release_challenger(_releases(), state.data))


@logger.inject_lambda_context
def notify(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary = notify_outcome(_sns(), RunState.from_event(event), settings.notify_topic_arn)
    logger.info("retraining outcome", extra=summary)
    return summary
