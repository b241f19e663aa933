"""The drift monitor's handler in a moto world, as its template role (IAM enforced when on):
the live alias's stable model version, its captured window, the checkpoint and the reports."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest

from modelship import names
from modelship.local.template import resources_of_type
from modelship.monitoring.monitor import checkpoint_key
from modelship.serving.capture import CaptureRecord
from modelship.training.churn import CHURN_FEATURES, generate_churn
from tests.conftest import BUCKET
from tests.integration.iam_world import function_name
from tests.integration.release_template import function_env, release_template
from tests.integration.release_world import MODEL, World, stable_on

MIN_ROWS = 150


def _monitor(world: World) -> str:
    template = release_template()
    (logical,) = [
        lid
        for lid, r in resources_of_type(template, "AWS::Lambda::Function").items()
        if r["Properties"]["Handler"] == names.MONITOR_HANDLER
    ]
    name = function_name(logical, names.MONITOR_HANDLER)
    env = function_env(template, names.MONITOR_HANDLER)
    env[names.ENV_DRIFT_MIN_ROWS] = str(MIN_ROWS)
    world.create_function(name, names.MONITOR_HANDLER, env)
    return name


def _run(world: World, name: str) -> dict[str, Any]:
    response = world.lambda_.invoke(FunctionName=name, Payload=b"{}")
    payload: dict[str, Any] = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def _capture(world: World, reference_model_dir: Path, drift: float, rows: int, seed: int) -> None:
    """`rows` requests of one row each, as Firehose would have delivered them."""
    table = generate_churn(n_rows=rows, seed=seed, drift=drift)
    instances = [{name: table.columns[name][i] for name in CHURN_FEATURES} for i in range(rows)]
    instances = [
        {k: (float(v) if isinstance(v, float | np.floating) else str(v)) for k, v in row.items()}
        for row in instances
    ]
    pipeline = joblib.load(reference_model_dir / names.MODEL_ARTIFACT_FILE)
    matrix = np.array([list(row.values()) for row in instances], dtype=object)
    predictions = [int(p) for p in pipeline.predict(matrix)]
    now = datetime.now(UTC)
    body = b"".join(
        CaptureRecord(
            request_id=f"r{seed}-{i}",
            model=MODEL,
            model_version="v1",
            captured_at=now,
            instances=[row],
            predictions=[prediction],
        ).line()
        for i, (row, prediction) in enumerate(zip(instances, predictions, strict=True))
    )
    key = f"{names.capture_prefix(MODEL, 'v1')}{now:%Y/%m/%d/%H}/capture-{seed}.gz"
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(body))
    # A window ends a second before its run (S3's LastModified has whole seconds).
    time.sleep(2)


def _reports(world: World) -> list[str]:
    listed = world.s3.list_objects_v2(Bucket=BUCKET, Prefix=names.drift_reports_prefix(MODEL))
    return sorted(o["Key"] for o in listed.get("Contents", []))


def test_without_a_released_model_there_is_nothing_to_judge(world: World) -> None:
    name = _monitor(world)

    summary = _run(world, name)

    assert summary["verdict"] == "insufficient_data"
    assert summary["report"] is None
    assert "pins no model" in summary["note"]
    assert _reports(world) == []


def test_a_window_is_judged_once_it_has_enough_rows_and_the_checkpoint_moves_only_then(
    world: World, reference_model_dir: Path
) -> None:
    stable_on(world, "v1")
    name = _monitor(world)

    # No captures yet: a report saying so, no checkpoint.
    empty = _run(world, name)
    assert (empty["verdict"], empty["rows"]) == ("insufficient_data", 0)
    assert "no captured requests" in empty["note"]
    assert empty["report"] in _reports(world)
    assert empty["report"].replace(".json", ".html") in _reports(world)
    assert checkpoint_key(MODEL) not in _reports(world)

    # Too few rows: reported, not judged, kept for the next run.
    _capture(world, reference_model_dir, drift=0.0, rows=100, seed=21)
    few = _run(world, name)
    assert (few["verdict"], few["rows"]) == ("insufficient_data", 100)
    assert checkpoint_key(MODEL) not in _reports(world)

    # More undrifted rows: the window holds both deliveries and is judged.
    _capture(world, reference_model_dir, drift=0.0, rows=100, seed=22)
    judged = _run(world, name)
    assert (judged["verdict"], judged["rows"]) == ("no_drift", 200)
    checkpoint = json.loads(
        world.s3.get_object(Bucket=BUCKET, Key=checkpoint_key(MODEL))["Body"].read()
    )
    assert checkpoint == {"model_version": "v1", "window_end": judged["window_end"]}

    # Drifted rows after the checkpoint: only they are judged, and they drifted.
    _capture(world, reference_model_dir, drift=0.9, rows=MIN_ROWS, seed=23)
    drifted = _run(world, name)
    assert drifted["window_start"] == judged["window_end"]
    assert (drifted["verdict"], drifted["rows"]) == ("drift", MIN_ROWS)
    assert {"monthly_charges", "support_calls"} <= set(drifted["drifted_features"])
    unmoved = {"payment_method", "internet_service", "paperless_billing", "num_products"}
    assert not unmoved & set(drifted["drifted_features"])
    report = json.loads(world.s3.get_object(Bucket=BUCKET, Key=drifted["report"])["Body"].read())
    assert report["verdict"] == "drift"
    assert report["score"] >= 0.2


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        (names.ENV_DRIFT_WINDOW_HOURS, "0", "DRIFT_WINDOW_HOURS"),
        (names.ENV_DRIFT_P_VALUE, "1.5", "DRIFT_P_VALUE"),
        (names.ENV_MODEL_NAME, "", "MODEL_NAME is missing"),
    ],
)
def test_a_bad_setting_fails_the_cold_start_naming_the_variable(
    variable: str, value: str, complaint: str
) -> None:
    from modelship.env import load
    from modelship.errors import ConfigurationError
    from modelship.monitoring.settings import MonitorSettings

    environ = {
        names.ENV_MODEL_BUCKET: BUCKET,
        names.ENV_MODEL_NAME: MODEL,
        names.ENV_PREDICT_FUNCTION: "fn",
        variable: value,
    }
    with pytest.raises(ConfigurationError, match=complaint):
        load(MonitorSettings, environ)
