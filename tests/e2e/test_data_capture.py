"""Data capture on the emulator: a captured request reaches the emulator's S3 through the
deployment's Firehose stream, under capture/<model>/<version>/<yyyy>/<MM>/<dd>/<HH>/, with
the excluded fields absent. The predict function's PutRecordBatch is authorized against its
role, and the delivery's PutObject against the stream's role."""

from __future__ import annotations

import json
import re
import time

import pytest

from modelship import names
from modelship.sample_events import load_event
from modelship.serving.capture import CaptureRecord, read_capture_object
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e
EXCLUDED = ("contract", "payment_method")
HOUR_FOLDER = re.compile(r"^capture/churn/v1/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.gz$")


def _captured_release(local: Local) -> str:
    """A release of v1 that captures every request without the excluded fields; the
    function's unpublished configuration is put back as it was."""
    lambda_ = local.client("lambda")
    function = local.environment["MODELSHIP_FUNCTION"]
    before = lambda_.get_function_configuration(FunctionName=function)["Environment"]
    variables = {
        **before["Variables"],
        names.ENV_CAPTURE_SAMPLE_RATE: "1",
        names.ENV_CAPTURE_EXCLUDE_FIELDS: ",".join(EXCLUDED),
    }
    assert variables[names.ENV_CAPTURE_STREAM]  # the template wires the stream in
    lambda_.update_function_configuration(
        FunctionName=function, Environment={"Variables": variables}
    )
    try:
        return local.released("v1")
    finally:
        lambda_.update_function_configuration(FunctionName=function, Environment=before)


def test_a_captured_request_lands_partitioned_in_s3_without_the_excluded_fields(
    local: Local,
) -> None:
    version = _captured_release(local)
    event = load_event("predict_valid")
    s3, bucket = local.client("s3"), local.environment["MODELSHIP_BUCKET"]

    answer = local.client("lambda").invoke(
        FunctionName=f"{local.environment['MODELSHIP_FUNCTION']}:{version}",
        Payload=json.dumps(event),
    )
    response = json.loads(answer["Payload"].read())
    assert response["statusCode"] == 200

    # Other tests' requests to v1 may be delivered first: wait for this one's.
    def capture_of_the_request() -> tuple[list[str], list[tuple[str, CaptureRecord]]]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="capture/churn/v1/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        return keys, [
            (key, record)
            for key in keys
            for record in read_capture_object(s3.get_object(Bucket=bucket, Key=key)["Body"].read())[
                0
            ]
            if record.request_id == event["requestContext"]["requestId"]
        ]

    deadline = time.monotonic() + 60
    found, captured = capture_of_the_request()
    while not captured and time.monotonic() < deadline:
        time.sleep(0.5)
        found, captured = capture_of_the_request()
    assert captured, f"no capture of the request among {found}"
    key, record = captured[0]
    assert HOUR_FOLDER.match(key), key
    assert (record.model, record.model_version) == ("churn", "v1")
    assert record.excluded_fields == sorted(EXCLUDED)
    assert all(field not in row for row in record.instances for field in EXCLUDED)
    assert record.instances[0]["tenure_months"] == 54
    assert record.predictions == json.loads(response["body"])["predictions"]
