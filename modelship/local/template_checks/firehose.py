"""Firehose delivery streams to S3: the name, the role, and what dynamic partitioning needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from modelship.local.template_checks.context import Context, Rule, number

# Firehose API reference, CreateDeliveryStream: DeliveryStreamName 1-64 of [a-zA-Z0-9_.-].
DELIVERY_STREAM_NAME = (64, re.compile(r"[a-zA-Z0-9_.-]+"))
# BufferingHints (API reference): SizeInMBs 1-128, IntervalInSeconds 0-900; with dynamic
# partitioning the buffer is at least 64 MiB (developer guide, "Dynamic partitioning",
# buffering hints).
BUFFER_SIZE_MIB = (1, 128)
BUFFER_INTERVAL_SECONDS = (0, 900)
DYNAMIC_PARTITIONING_MIN_BUFFER_MIB = 64
# Prefix and ErrorOutputPrefix: at most 1,024 characters (ExtendedS3DestinationConfiguration).
PREFIX_CHARS = 1024
_PARTITION_KEY = re.compile(r"!\{partitionKeyFrom(Query|Lambda):")


def _metadata_extraction(destination: Mapping[str, Any]) -> bool:
    processing = destination.get("ProcessingConfiguration") or {}
    return any(
        processor.get("Type") == "MetadataExtraction"
        and any(
            p.get("ParameterName") == "MetadataExtractionQuery"
            for p in processor.get("Parameters") or []
        )
        for processor in processing.get("Processors") or []
    )


def _delivery_stream(ctx: Context, logical: str, props: Mapping[str, Any]) -> None:
    ctx.name(
        "firehose-stream-name",
        logical,
        "DeliveryStreamName",
        props.get("DeliveryStreamName"),
        DELIVERY_STREAM_NAME,
        "a delivery stream name",
    )
    destination = props.get("ExtendedS3DestinationConfiguration")
    if destination is None:
        return
    where = "ExtendedS3DestinationConfiguration."
    if not destination.get("RoleARN"):
        ctx.refuse(
            "firehose-role", logical, f"{where}RoleARN", None, "an S3 destination needs a role"
        )
    for prop in ("Prefix", "ErrorOutputPrefix"):
        ctx.at_most("firehose-prefix", logical, where + prop, destination.get(prop), PREFIX_CHARS)
    hints = destination.get("BufferingHints") or {}
    ctx.in_range(
        "firehose-buffering",
        logical,
        f"{where}BufferingHints.SizeInMBs",
        hints.get("SizeInMBs"),
        BUFFER_SIZE_MIB,
        "the buffer size (MiB)",
    )
    ctx.in_range(
        "firehose-buffering",
        logical,
        f"{where}BufferingHints.IntervalInSeconds",
        hints.get("IntervalInSeconds"),
        BUFFER_INTERVAL_SECONDS,
        "the buffer interval (s)",
    )
    prefix = str(destination.get("Prefix") or "")
    dynamic = bool((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))
    if not dynamic:
        if _PARTITION_KEY.search(prefix):
            ctx.refuse(
                "firehose-dynamic-partitioning",
                logical,
                f"{where}Prefix",
                prefix,
                "partitionKeyFrom* expressions need dynamic partitioning enabled",
            )
        return
    size = number(hints.get("SizeInMBs", 5))  # the service's default is 5 MiB
    if size is not None and size < DYNAMIC_PARTITIONING_MIN_BUFFER_MIB:
        ctx.refuse(
            "firehose-dynamic-partitioning",
            logical,
            f"{where}BufferingHints.SizeInMBs",
            hints.get("SizeInMBs", 5),
            f"dynamic partitioning needs a buffer of at least "
            f"{DYNAMIC_PARTITIONING_MIN_BUFFER_MIB} MiB",
        )
    if not destination.get("ErrorOutputPrefix"):
        ctx.refuse(
            "firehose-dynamic-partitioning",
            logical,
            f"{where}ErrorOutputPrefix",
            None,
            "dynamic partitioning needs an error output prefix",
        )
    if _PARTITION_KEY.search(prefix) and not _metadata_extraction(destination):
        ctx.refuse(
            "firehose-dynamic-partitioning",
            logical,
            f"{where}ProcessingConfiguration",
            None,
            "partitionKeyFromQuery in the prefix needs a MetadataExtraction processor "
            "with a MetadataExtractionQuery",
        )
    if _PARTITION_KEY.search(str(destination.get("ErrorOutputPrefix") or "")):
        ctx.refuse(
            "firehose-dynamic-partitioning",
            logical,
            f"{where}ErrorOutputPrefix",
            destination.get("ErrorOutputPrefix"),
            "an error output prefix cannot use partition keys (the records failed to give them)",
        )


RULES: dict[str, Rule] = {"AWS::KinesisFirehose::DeliveryStream": _delivery_stream}
