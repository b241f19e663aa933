"""Firehose delivery to the emulator's S3 as the template configures it.

moto writes every PutRecord(Batch) of an S3 destination as one object under its literal
prefix plus the hour. A destination with dynamic partitioning is delivered here instead, the
way Firehose delivers it: each record's partition keys come from the MetadataExtraction JQ
query (the simple `{key: .field, ...}` form), the prefix's `!{partitionKeyFromQuery:key}`,
`!{timestamp:<Java pattern>}` and `!{firehose:...}` expressions are evaluated, each partition
becomes one object (GZIP when CompressionFormat says so), and records that cannot be
partitioned go under the ErrorOutputPrefix with the error, as Firehose writes them. Every
object is written as the delivery stream's role (its s3:PutObject statement is evaluated); a
denied write drops the records, as Firehose does once its retries are spent, and the denial
is recorded like any other.

Differences from AWS: there is no buffering (each call's records are delivered at once,
one object per partition and call) and the timestamp is the delivery time.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from modelship.local.iam.authorizer import AccessDenied, Authorizer

# The MetadataExtraction queries the emulator evaluates: `{name: .field, name2: .a.b}`.
_QUERY = re.compile(r"^\{\s*(?:[A-Za-z_]\w*\s*:\s*(?:\.[A-Za-z_]\w*)+\s*(?:,\s*|(?=\})))+\}$")
_PAIR = re.compile(r"([A-Za-z_]\w*)\s*:\s*((?:\.[A-Za-z_]\w*)+)")
_EXPRESSION = re.compile(r"!\{(\w+):([^}]*)\}")
# Java DateTimeFormatter letters used in prefixes -> strftime.
_JAVA_TIME = {"yyyy": "%Y", "yy": "%y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_JAVA_TOKEN = re.compile(r"'([^']*)'|(yyyy|yy|MM|dd|HH|mm|ss)")
# What !{firehose:error-output-type} evaluates to for records the processing (here: the
# metadata extraction) could not handle.
PROCESSING_FAILED = "processing-failed"
SESSION = "firehose-delivery"


class UnsupportedQuery(ValueError):
    """A MetadataExtraction query the emulator cannot evaluate."""


def partition_query(query: str) -> dict[str, tuple[str, ...]]:
    """`{model: .model, version: .meta.version}` -> {"model": ("model",), "version": ...}."""
    if not _QUERY.match(query.strip()):
        raise UnsupportedQuery(
            f"MetadataExtractionQuery {query!r}: the emulator evaluates only the "
            "`{key: .field, ...}` form"
        )
    return {key: tuple(path.split(".")[1:]) for key, path in _PAIR.findall(query)}


def java_time(pattern: str, when: datetime) -> str:
    def one(match: re.Match[str]) -> str:
        literal, token = match.groups()
        return literal if literal is not None else when.strftime(_JAVA_TIME[token])

    return _JAVA_TOKEN.sub(one, pattern)


def evaluate_prefix(
    prefix: str, when: datetime, keys: Mapping[str, str], error_type: str = ""
) -> str:
    """A prefix's expressions evaluated; KeyError for a partition key the record lacks."""

    def one(match: re.Match[str]) -> str:
        namespace, value = match.groups()
        if namespace == "timestamp":
            return java_time(value, when)
        if namespace == "partitionKeyFromQuery":
            return keys[value]
        if namespace == "firehose" and value == "error-output-type":
            return error_type
        if namespace == "firehose" and value == "random-string":
            return uuid.uuid4().hex[:11]
        raise UnsupportedQuery(f"prefix expression !{{{namespace}:{value}}} is not emulated")

    return _EXPRESSION.sub(one, prefix)


def record_keys(data: bytes, query: Mapping[str, tuple[str, ...]]) -> dict[str, str] | None:
    """The record's partition keys, or None when it is not JSON or a key is not a scalar."""
    try:
        document = json.loads(data)
    except ValueError:
        return None
    keys: dict[str, str] = {}
    for key, path in query.items():
        value: Any = document
        for field in path:
            value = value.get(field) if isinstance(value, dict) else None
        if value is None or isinstance(value, dict | list):
            return None
        keys[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return keys


def _data(record: Mapping[str, Any]) -> bytes:
    data = record["Data"]
    return base64.b64decode(data) if isinstance(data, str) else bytes(data)


def _processor_query(destination: Mapping[str, Any]) -> str | None:
    processing = destination.get("ProcessingConfiguration") or {}
    for processor in processing.get("Processors") or []:
        if processor.get("Type") == "MetadataExtraction":
            for parameter in processor.get("Parameters") or []:
                if parameter.get("ParameterName") == "MetadataExtractionQuery":
                    return str(parameter["ParameterValue"])
    return None


def dynamic_partitioning(destination: Mapping[str, Any]) -> bool:
    return bool((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled"))


class Delivery:
    """Delivers one destination's records; `authorizer()` is the emulator's (None: no IAM)."""

    def __init__(self, write: Callable[[str, str, bytes], None], authorizer: Any) -> None:
        self._write = write
        self._authorizer: Callable[[], Authorizer | None] = authorizer

    def deliver(
        self, stream: str, version: str, destination: Mapping[str, Any], records: list[Any]
    ) -> None:
        now = datetime.now(UTC)
        query = partition_query(_processor_query(destination) or "{}")
        partitions: dict[str, list[bytes]] = {}
        failed: list[bytes] = []
        for record in records:
            data = _data(record)
            keys = record_keys(data, query)
            try:
                prefix = evaluate_prefix(destination.get("Prefix", ""), now, keys or {})
            except KeyError:
                keys = None
            if keys is None:
                failed.append(self._error_document(data, now))
            else:
                partitions.setdefault(prefix, []).append(data)
        name = f"{stream}-{version}-{now:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}"
        for prefix, lines in partitions.items():
            self._put(destination, prefix + name, b"".join(lines))
        if failed:
            error_prefix = destination.get("ErrorOutputPrefix", "")
            prefix = evaluate_prefix(error_prefix, now, {}, PROCESSING_FAILED)
            self._put(destination, prefix + name, b"".join(failed))

    @staticmethod
    def _error_document(data: bytes, when: datetime) -> bytes:
        # The shape Firehose gives a record it could not partition (one JSON line each).
        document = {
            "rawData": base64.b64encode(data).decode(),
            "errorCode": "DynamicPartitioning.MetadataExtractionFailed",
            "errorMessage": "Non JSON record provided or a partition key is missing or null",
            "attemptsMade": 1,
            "arrivalTimestamp": int(when.timestamp() * 1000),
        }
        return json.dumps(document, separators=(",", ":")).encode() + b"\n"

    def _put(self, destination: Mapping[str, Any], key: str, body: bytes) -> None:
        if destination.get("CompressionFormat") == "GZIP":
            body, key = gzip.compress(body), key + ".gz"
        bucket = str(destination["BucketARN"]).split(":::", 1)[-1]
        authorizer = self._authorizer()
        if authorizer is not None:
            try:
                authorizer.authorize_call(
                    str(destination["RoleARN"]),
                    SESSION,
                    "s3",
                    "PutObject",
                    {"Bucket": bucket, "Key": key},
                )
            except AccessDenied:
                return  # recorded by the authorizer; Firehose gives up after its retries
        self._write(bucket, key, body)


@contextlib.contextmanager
def firehose_delivery(authorizer: Callable[[], Authorizer | None]) -> Iterator[None]:
    """While active, moto's Firehose delivers dynamically partitioned S3 destinations here."""
    from moto.firehose.models import FirehoseBackend
    from moto.s3.models import s3_backends

    original = FirehoseBackend.put_s3_records

    def put_s3_records(
        backend: Any, stream: str, version: str, destination: dict[str, Any], records: list[Any]
    ) -> list[dict[str, str]]:
        if not dynamic_partitioning(destination):
            return original(backend, stream, version, destination, records)

        def write(bucket: str, key: str, body: bytes) -> None:
            s3_backends[backend.account_id][backend.partition].put_object(bucket, key, body)

        Delivery(write, authorizer).deliver(stream, version, destination, records)
        return [{"RecordId": uuid.uuid4().hex} for _ in records]

    with mock.patch.object(FirehoseBackend, "put_s3_records", put_s3_records):
        yield
