"""CloudWatch Logs log groups: the name and the retention periods AWS offers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule, number

# CloudWatch Logs API reference, CreateLogGroup: 1-512 characters of [\.\-_/#A-Za-z0-9].
LOG_GROUP_NAME = (512, re.compile(r"[.\-_/#A-Za-z0-9]+"))
# CloudWatch Logs API reference, PutRetentionPolicy: the possible values of retentionInDays.
LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)


def _log_group(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "logs-log-group-name",
        logical,
        "LogGroupName",
        props.get("LogGroupName"),
        LOG_GROUP_NAME,
        "a log group name",
    )
    retention = props.get("RetentionInDays")
    if retention is not None and number(retention) not in LOG_RETENTION_DAYS:
        ctx.refuse(
            "logs-retention",
            logical,
            "RetentionInDays",
            retention,
            f"must be one of {sorted(LOG_RETENTION_DAYS)}",
        )


RULES: dict[str, Rule] = {"AWS::Logs::LogGroup": _log_group}
