"""The emulator's Firehose delivery: prefix expressions, JQ partition keys, the role's write."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelship.local.firehose_delivery import (
    Delivery,
    UnsupportedQuery,
    evaluate_prefix,
    java_time,
    partition_query,
    record_keys,
)
from modelship.local.iam.authorizer import AccessDenied

WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
DESTINATION = {
    "BucketARN": "arn:aws:s3:::models",
    "RoleARN": "arn:aws:iam::123456789012:role/delivery",
    "Prefix": "capture/!{partitionKeyFromQuery:model}/!{partitionKeyFromQuery:version}/"
    "!{timestamp:yyyy/MM/dd/HH}/",
    "ErrorOutputPrefix": "capture-errors/!{firehose:error-output-type}/!{timestamp:yyyy}/",
    "CompressionFormat": "GZIP",
    "DynamicPartitioningConfiguration": {"Enabled": True},
    "ProcessingConfiguration": {
        "Processors": [
            {
                "Type": "MetadataExtraction",
                "Parameters": [
                    {
                        "ParameterName": "MetadataExtractionQuery",
                        "ParameterValue": "{model: .model, version: .model_version}",
                    }
                ],
            }
        ]
    },
}


def test_java_time_patterns_and_quoted_literals() -> None:
    assert java_time("yyyy/MM/dd/HH", WHEN) == "2026/03/04/05"
    assert java_time("yyyy'-'MM'-'dd'T'HH:mm:ss", WHEN) == "2026-03-04T05:06:07"


def test_a_prefix_is_evaluated_with_the_records_keys() -> None:
    prefix = evaluate_prefix(DESTINATION["Prefix"], WHEN, {"model": "churn", "version": "v3"})
    assert prefix == "capture/churn/v3/2026/03/04/05/"
    with pytest.raises(KeyError):
        evaluate_prefix(DESTINATION["Prefix"], WHEN, {"model": "churn"})


def test_only_the_simple_jq_object_form_is_accepted() -> None:
    assert partition_query("{model: .model, version: .meta.version}") == {
        "model": ("model",),
        "version": ("meta", "version"),
    }
    for query in ("{model: .model | ascii_downcase}", ".model", "{model: .model[0]}"):
        with pytest.raises(UnsupportedQuery, match=r"key: \.field"):
            partition_query(query)


@pytest.mark.parametrize(
    ("data", "keys"),
    [
        (b'{"model": "churn", "model_version": "v1"}', {"model": "churn", "version": "v1"}),
        (b'{"model": "churn", "model_version": 7}', {"model": "churn", "version": "7"}),
        (b'{"model": "churn"}', None),
        (b'{"model": "churn", "model_version": null}', None),
        (b'{"model": "churn", "model_version": {"a": 1}}', None),
        (b"not json", None),
    ],
)
def test_partition_keys_of_a_record(data: bytes, keys: dict[str, str] | None) -> None:
    query = partition_query("{model: .model, version: .model_version}")
    assert record_keys(data, query) == keys


class _Authorizer:
    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.calls: list[tuple[Any, ...]] = []

    def authorize_call(self, *args: Any) -> None:
        self.calls.append(args)
        if not self.allow:
            raise AccessDenied("s3", "PutObject", "denied")


def _deliver(authorizer: _Authorizer | None) -> dict[str, bytes]:
    written: dict[str, bytes] = {}

    def write(bucket: str, key: str, body: bytes) -> None:
        assert bucket == "models"
        written[key] = body

    records = [
        {"Data": b'{"model": "churn", "model_version": "v1", "x": 1}\n'},
        {"Data": b'{"model": "churn", "model_version": "v2"}\n'},
        {"Data": b'{"model": "churn", "model_version": "v1", "x": 2}\n'},
        {"Data": b"broken\n"},
    ]
    Delivery(write, lambda: authorizer).deliver("capture", "1", DESTINATION, records)
    return written


def test_records_are_grouped_per_partition_compressed_and_errors_set_apart() -> None:
    written = _deliver(None)

    by_folder = {key.rsplit("/", 1)[0]: body for key, body in written.items()}
    now = datetime.now(UTC)
    hour = now.strftime("%Y/%m/%d/%H")
    assert set(by_folder) == {
        f"capture/churn/v1/{hour}",
        f"capture/churn/v2/{hour}",
        f"capture-errors/processing-failed/{now:%Y}",
    }
    assert all(key.endswith(".gz") and "/capture-1-" in key for key in written)
    v1 = gzip.decompress(by_folder[f"capture/churn/v1/{hour}"]).splitlines()
    assert [json.loads(line)["x"] for line in v1] == [1, 2]
    (error,) = gzip.decompress(by_folder[f"capture-errors/processing-failed/{now:%Y}"]).splitlines()
    assert json.loads(error)["rawData"] == "YnJva2VuCg=="  # base64 of b"broken\n"


def test_each_object_is_written_as_the_streams_role_and_a_denied_write_is_dropped() -> None:
    allowed = _Authorizer(allow=True)
    assert len(_deliver(allowed)) == 3  # type: ignore[arg-type]
    role, _session, service, operation, params = allowed.calls[0]
    assert (role, service, operation) == (DESTINATION["RoleARN"], "s3", "PutObject")
    assert params["Bucket"] == "models"
    assert params["Key"].startswith("capture/churn/v1/")

    assert _deliver(_Authorizer(allow=False)) == {}  # type: ignore[arg-type]
