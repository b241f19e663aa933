from modelship.retraining.trigger import manual_trigger, trigger_from_event
from modelship.sample_events import load_event


def test_s3_upload_names_the_execution_by_key_and_etag() -> None:
    event = load_event("s3_dataset_created")
    other_etag = load_event("s3_dataset_created")
    other_etag["detail"]["object"]["etag"] = "0" * 32

    first, again, changed = (
        trigger_from_event(event, "churn"),
        trigger_from_event(load_event("s3_dataset_created"), "churn"),
        trigger_from_event(other_etag, "churn"),
    )

    assert first is not None
    assert again is not None
    assert changed is not None
    assert first.execution_name == again.execution_name
    assert first.execution_name != changed.execution_name
    assert first.dataset_key == "datasets/churn/2026-11-27.csv"


def test_objects_outside_the_models_dataset_prefix_are_ignored() -> None:
    event = load_event("s3_dataset_created")
    event["detail"]["object"]["key"] = "datasets/churn/schema.json"

    assert trigger_from_event(event, "churn") is None
    assert trigger_from_event(load_event("s3_dataset_created"), "fraud") is None


def test_schedule_and_drift_alarm_start_runs_named_by_time() -> None:
    schedule = trigger_from_event(load_event("schedule_retrain"), "churn")
    drift = trigger_from_event(load_event("alarm_drift"), "churn")

    assert schedule is not None
    assert schedule.execution_name == "schedule-20261130T0300"
    assert drift is not None
    assert drift.source == "drift"
    assert drift.execution_name == "drift-modelship-drift-churn-20261127T051000"


def test_drift_alarm_back_to_ok_starts_nothing() -> None:
    event = load_event("alarm_drift")
    event["detail"]["state"]["value"] = "OK"

    assert trigger_from_event(event, "churn") is None


def test_manual_runs_get_unique_names() -> None:
    assert manual_trigger().execution_name != manual_trigger().execution_name
