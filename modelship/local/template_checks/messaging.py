"""SQS queues and SNS topics: the names CreateQueue and CreateTopic accept."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule

# SQS API reference, CreateQueue: up to 80 alphanumeric characters, hyphens and underscores
# (a FIFO queue ends in .fifo). SNS API reference, CreateTopic: the same characters, 1-256.
QUEUE_NAME = (80, re.compile(r"[A-Za-z0-9_-]+(\.fifo)?"))
TOPIC_NAME = (256, re.compile(r"[A-Za-z0-9_-]+(\.fifo)?"))


def _queue(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sqs-queue-name", logical, "QueueName", props.get("QueueName"), QUEUE_NAME, "a queue name"
    )


def _topic(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "sns-topic-name", logical, "TopicName", props.get("TopicName"), TOPIC_NAME, "a topic name"
    )


RULES: dict[str, Rule] = {"AWS::SQS::Queue": _queue, "AWS::SNS::Topic": _topic}
