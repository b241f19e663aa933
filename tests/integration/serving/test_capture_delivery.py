"""Data capture end to end in moto: the real predict handler offers its predictions, the
sender thread puts them to a Firehose delivery stream configured as the CDK app configures
it, and the emulator's delivery writes them to S3 partitioned by model, version and hour."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from infra_cdk.data_capture import CAPTURE_ERROR_PREFIX, CAPTURE_S3_PREFIX, PARTITION_QUERY
from modelship.local.firehose_delivery import firehose_delivery
from modelship.sample_events import load_event
from modelship.serving.capture import CaptureRecord, read_capture_object
from tests.conftest import BUCKET
from tests.integration.conftest import Invoke

STREAM = "modelship-test-capture"
EXCLUDED = "contract,total_charges"
HOUR_FOLDER = re.compile(
    rf"^capture/churn/v1/\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}}/{STREAM}-1-[-\d]+-[0-9a-f-]+\.gz$"
)


def _destination() -> dict[str, Any]:
    return {
        "BucketARN": f"arn:aws:s3:::{BUCKET}",
        "RoleARN": "arn:aws:iam::123456789012:role/capture-delivery",
        "Prefix": CAPTURE_S3_PREFIX,
        "ErrorOutputPrefix": CAPTURE_ERROR_PREFIX,
        "BufferingHints": {"IntervalInSeconds": 300, "SizeInMBs": 64},
        "CompressionFormat": "GZIP",
        "DynamicPartitioningConfiguration": {"Enabled": True},
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "MetadataExtraction",
                    "Parameters": [
                        {
                            "ParameterName": "MetadataExtractionQuery",
                            "ParameterValue": PARTITION_QUERY,
                        },
                        {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                    ],
                }
            ],
        },
    }


@pytest.fixture
def firehose(s3: Any) -> Iterator[Any]:
    client = boto3.client("firehose", region_name="us-east-1")
    client.create_delivery_stream(
        DeliveryStreamName=STREAM,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=_destination(),
    )
    with firehose_delivery(lambda: None):
        yield client


def _objects(s3: Any, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def _metrics(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if '"_aws"' in line]


def test_a_captured_request_lands_under_its_model_version_and_hour_without_excluded_fields(
    s3: Any,
    published: Any,
    firehose: Any,
    start_function: Callable[..., Invoke],
    capsys: pytest.CaptureFixture[str],
) -> None:
    function = start_function(
        MODEL_SHA256=published.artifact.sha256,
        CAPTURE_STREAM=STREAM,
        CAPTURE_SAMPLE_RATE="1",
        CAPTURE_EXCLUDE_FIELDS=EXCLUDED,
    )
    capsys.readouterr()

    response = function(load_event("predict_valid"))
    function.module.capture.flush(10)  # type: ignore[attr-defined]

    assert response["statusCode"] == 200
    (key, body), *others = _objects(s3, "capture/").items()
    assert others == []
    assert HOUR_FOLDER.match(key), key
    (record,), malformed = read_capture_object(body)
    assert malformed == 0
    assert record.request_id == "req-predict-valid"
    assert (record.model, record.model_version) == ("churn", "v1")
    assert record.excluded_fields == ["contract", "total_charges"]
    sent = json.loads(load_event("predict_valid")["body"])["instances"][0]
    assert record.instances == [
        {k: v for k, v in sent.items() if k not in ("contract", "total_charges")}
    ]
    answer = json.loads(response["body"])
    assert record.predictions == answer["predictions"]
    assert record.probabilities == answer["probabilities"]
    (emf,) = _metrics(capsys.readouterr().out)
    assert emf["CapturedRequests"] == [1.0]
    assert "CaptureFailures" not in emf


def test_a_captured_columnar_request_is_recorded_as_rows_with_the_row_answer(
    s3: Any, published: Any, firehose: Any, start_function: Callable[..., Invoke]
) -> None:
    function = start_function(
        MODEL_SHA256=published.artifact.sha256,
        CAPTURE_STREAM=STREAM,
        CAPTURE_SAMPLE_RATE="1",
        CAPTURE_EXCLUDE_FIELDS=EXCLUDED,
    )

    response = function(load_event("predict_columnar"))
    function.module.capture.flush(10)  # type: ignore[attr-defined]

    assert response["statusCode"] == 200
    ((key, body),) = _objects(s3, "capture/").items()
    assert HOUR_FOLDER.match(key), key
    (record,), malformed = read_capture_object(body)
    assert malformed == 0
    assert record.request_id == "req-predict-columnar"
    assert record.excluded_fields == ["contract", "total_charges"]
    columns = json.loads(load_event("predict_columnar")["body"])["columns"]
    kept = [name for name in columns if name not in ("contract", "total_charges")]
    rows = len(columns["tenure_months"])
    # One object per row, as a row request's record: the drift monitor reads only rows.
    assert record.instances == [{name: columns[name][i] for name in kept} for i in range(rows)]
    answer = json.loads(response["body"])
    assert record.predictions == answer["predictions"]
    # The answer's matrix in `classes` order, recorded as the row format's {class: p} dicts.
    assert record.probabilities == [
        dict(zip(answer["classes"], row, strict=True)) for row in answer["probabilities"]
    ]


def test_a_failing_stream_never_fails_a_prediction_and_its_losses_are_counted(
    published: Any, firehose: Any, start_function: Callable[..., Invoke], capsys: Any
) -> None:
    function = start_function(
        MODEL_SHA256=published.artifact.sha256,
        CAPTURE_STREAM="no-such-stream",
        CAPTURE_SAMPLE_RATE="1",
    )
    capsys.readouterr()

    first = function(load_event("predict_valid"))
    function.module.capture.flush(10)  # type: ignore[attr-defined]
    second = function(load_event("predict_valid"))

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    first_emf, second_emf = _metrics(capsys.readouterr().out)
    assert "CaptureFailures" not in first_emf
    # The first request's record, refused (the second's may already have failed too).
    assert second_emf["CaptureFailures"][0] in (1.0, 2.0)
    assert second_emf["Requests"] == [1.0]


def test_a_record_that_cannot_be_partitioned_goes_under_the_error_prefix(
    s3: Any, firehose: Any
) -> None:
    good = CaptureRecord.model_validate(
        {
            "request_id": "r1",
            "model": "churn",
            "model_version": "v2",
            "captured_at": "2026-01-01T00:00:00Z",
            "instances": [],
            "predictions": [],
        }
    ).line()

    firehose.put_record_batch(
        DeliveryStreamName=STREAM,
        Records=[{"Data": good}, {"Data": b"not json\n"}, {"Data": b'{"model": "churn"}\n'}],
    )

    delivered = _objects(s3, "capture/churn/v2/")
    assert len(delivered) == 1
    errors = _objects(s3, "capture-errors/processing-failed/")
    (error_body,) = errors.values()
    lines = [json.loads(line) for line in gzip.decompress(error_body).splitlines()]
    assert [line["errorCode"] for line in lines] == [
        "DynamicPartitioning.MetadataExtractionFailed"
    ] * 2


def test_a_stream_without_dynamic_partitioning_keeps_moto_s_own_delivery(
    s3: Any, firehose: Any
) -> None:
    firehose.create_delivery_stream(
        DeliveryStreamName="plain",
        ExtendedS3DestinationConfiguration={
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "RoleARN": "arn:aws:iam::123456789012:role/x",
            "Prefix": "plain/",
        },
    )

    firehose.put_record_batch(DeliveryStreamName="plain", Records=[{"Data": b"a\n"}])

    (body,) = _objects(s3, "plain/").values()
    assert body == b"a\n"
