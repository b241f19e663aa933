"""A columnar request through the emulator's gateway: answered in columns, the same
predictions and probabilities as the same values sent as rows, and refused as documented."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelship.api_client import call
from modelship.sample_events import load_event
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e


def post(api_url: str, body: bytes) -> tuple[int, str, Any]:
    """(status, X-Model-Version, JSON body) of one signed POST /predict."""
    answer = call(api_url, "POST", "/predict", body, {"content-type": "application/json"})
    return answer.status, answer.header("X-Model-Version"), answer.json()


def test_a_columnar_request_is_answered_in_columns_as_its_rows_are(local: Local) -> None:
    columnar_body = str(load_event("predict_columnar")["body"])
    columns = json.loads(columnar_body)["columns"]
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)
    ]

    status, model_version, columnar = post(local.api_url, columnar_body.encode())
    row_status, _, by_rows = post(local.api_url, json.dumps({"instances": rows}).encode())

    assert (status, row_status) == (200, 200), (columnar, by_rows)
    assert model_version == columnar["model_version"] == "v1"
    assert columnar["classes"] == ["0", "1"]
    assert columnar["predictions"] == by_rows["predictions"]
    assert [dict(zip(columnar["classes"], p, strict=True)) for p in columnar["probabilities"]] == (
        by_rows["probabilities"]
    )


def test_columns_of_unequal_length_are_a_422_naming_the_field(local: Local) -> None:
    body = str(load_event("predict_columnar_unequal_lengths")["body"]).encode()

    status, _, answer = post(local.api_url, body)

    assert status == 422, answer
    assert answer["error"]["code"] == "schema_mismatch"
    assert [(d["field"], d["type"]) for d in answer["error"]["details"]] == [
        ("monthly_charges", "column_length")
    ]
