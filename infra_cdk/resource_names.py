"""Names AWS limits in length and characters, derived so they always fit and stay unique."""

from __future__ import annotations

import hashlib
import re

# CreateStateMachine: 1-80 characters; only 0-9, A-Z, a-z, - and _ when logging to CloudWatch.
STATE_MACHINE_NAME_MAX = 80
# CreateTrainingJob: TrainingJobName ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$, unique per account
# and region.
TRAINING_JOB_NAME_MAX = 63
# CreateLogGroup: logGroupName 1-512 characters.
LOG_GROUP_NAME_MAX = 512
_VENDED_LOGS = "/aws/vendedlogs/states/"
# States.Hash(..., 'MD5') answers 32 hex digits.
MD5_HEX_DIGITS = 32
_DIGEST_DIGITS = 8


def fitted(name: str, limit: int) -> str:
    """`name` if it fits in `limit`, else its head and a digest of the whole name, so two long
    names that share a head still differ."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_DIGEST_DIGITS]
    return f"{name[: limit - _DIGEST_DIGITS - 1]}-{digest}"


def retrain_state_machine_name(stack_name: str, model_name: str) -> str:
    return fitted(f"{stack_name}-retrain-{model_name}", STATE_MACHINE_NAME_MAX)


def training_job_prefix(stack_name: str, model_name: str) -> str:
    """The fixed head of every training job name of one stack and model; the run's MD5 (hex)
    follows it after a hyphen, within TRAINING_JOB_NAME_MAX."""
    readable = re.sub(r"[^a-zA-Z0-9-]", "-", f"{stack_name}-{model_name}").strip("-")
    return fitted(readable, TRAINING_JOB_NAME_MAX - MD5_HEX_DIGITS - 1)


def vended_log_group_name(state_machine_name: str) -> str:
    """Step Functions log groups under /aws/vendedlogs/ do not grow the account's 5,120-character
    CloudWatch Logs resource policy (Step Functions best practices)."""
    return _VENDED_LOGS + fitted(state_machine_name, LOG_GROUP_NAME_MAX - len(_VENDED_LOGS))


def release_log_group_name(stack_name: str, model_name: str, *, default: bool) -> str:
    """The release state machine's log group: the default model keeps the name it always
    had, every other model's carries its name."""
    return vended_log_group_name(
        f"{stack_name}-release" if default else f"{stack_name}-release-{model_name}"
    )
