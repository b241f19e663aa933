"""Shadow releases against moto: the state object, the refusals, the report read from the
Shadow* metrics (put here as the shadow side would emit them), stop and promote."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelship import names
from modelship.errors import (
    CanaryInProgress,
    InvalidShadow,
    NoShadow,
    ReleaseNotFound,
    ShadowAlreadyRunning,
    ShadowNotPromotable,
)
from modelship.releases.shadow import (
    current_shadow,
    promote_shadow,
    report_key,
    shadow_report,
    start_shadow,
    stop_shadow,
)
from modelship.serving.shadow_state import ShadowState
from tests.conftest import BUCKET
from tests.integration.release_world import FUNCTION, MODEL, World, released, stable_on


def put_shadow_metrics(
    world: World,
    model_version: str,
    *,
    requests: int,
    errors: int = 0,
    rows: int,
    agreeing: int,
    diff_sum: float = 0.0,
    diff_max: float = 0.0,
    mirrored_by: str | None = None,
) -> None:
    """What the shadow side emits for `requests` mirrored requests (in sums), and the serving
    side's ShadowMirrored under `mirrored_by`'s model version."""

    def dimensions(version: str) -> list[dict[str, str]]:
        return [
            {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
            {"Name": names.METRIC_DIMENSION_MODEL, "Value": MODEL},
            {"Name": names.METRIC_DIMENSION_MODEL_VERSION, "Value": version},
        ]

    now = datetime.now(UTC)
    data = [
        (names.METRIC_SHADOW_REQUESTS, requests, "Count"),
        (names.METRIC_SHADOW_ERRORS, errors, "Count"),
        (names.METRIC_SHADOW_ROWS, rows, "Count"),
        (names.METRIC_SHADOW_AGREEING_ROWS, agreeing, "Count"),
        (names.METRIC_SHADOW_SCORE_DIFF_SUM, diff_sum, "None"),
        (names.METRIC_SHADOW_SCORE_DIFF_MAX, diff_max, "None"),
    ]
    world.cloudwatch.put_metric_data(
        Namespace=names.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": dimensions(model_version),
                "Value": value,
                "Unit": unit,
                "Timestamp": now,
            }
            for name, value, unit in data
        ],
    )
    if mirrored_by:  # both of the serving side's dimension sets
        world.cloudwatch.put_metric_data(
            Namespace=names.METRICS_NAMESPACE,
            MetricData=[
                {
                    "MetricName": names.METRIC_SHADOW_MIRRORED,
                    "Dimensions": dimensions,
                    "Value": requests,
                    "Unit": "Count",
                    "Timestamp": now,
                }
                for dimensions in (dimensions(mirrored_by), dimensions(mirrored_by)[:2])
            ],
        )


def state_object(world: World) -> dict[str, Any] | None:
    try:
        body = world.s3.get_object(Bucket=BUCKET, Key=names.shadow_state_key(MODEL))["Body"]
    except world.s3.exceptions.NoSuchKey:
        return None
    loaded: dict[str, Any] = json.loads(body.read())
    return loaded


@pytest.fixture
def shadowable(world: World) -> tuple[str, str]:
    """v1 stable, v2 released but taking no traffic: (stable, shadow) Lambda versions."""
    stable = stable_on(world, "v1")
    (candidate,) = released(world, "v2")
    return stable, candidate


def test_start_writes_the_state_the_serving_side_reads_and_records_it(
    world: World, shadowable: tuple[str, str]
) -> None:
    stable, version = shadowable

    state = start_shadow(world.releases(), version, 0.2, reason="try v2 on live traffic")

    written = state_object(world)
    assert written is not None
    assert written == {
        "format_version": 1,
        "model": MODEL,
        "lambda_version": version,
        "model_version": "v2",
        "sample_rate": 0.2,
        "started_at": written["started_at"],
        "started_by": written["started_by"],
    }
    assert written["started_at"].endswith("Z")
    assert written["started_by"].startswith("arn:aws:")
    assert ShadowState.model_validate(written) == state
    assert current_shadow(world.releases()) == state
    record = world.history()[-1]
    assert record.action == "shadow_start"
    assert (record.from_version, record.to_version) == (stable, version)
    assert (record.from_model, record.to_model) == ("v1", "v2")
    assert record.details == {"sample_rate": 0.2, "state_key": names.shadow_state_key(MODEL)}
    assert record.reason == "try v2 on live traffic"
    # The alias is not touched: users only get the stable's answers.
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    # A mirror is invoked asynchronously: never retried, never delivered stale.
    config = world.lambda_.get_function_event_invoke_config(
        FunctionName=FUNCTION, Qualifier=version
    )
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 60)


def test_a_second_start_is_refused_naming_the_running_shadow(
    world: World, shadowable: tuple[str, str]
) -> None:
    _, version = shadowable
    (other,) = released(world, "v3")
    start_shadow(world.releases(), version, 0.2)

    with pytest.raises(ShadowAlreadyRunning) as raised:
        start_shadow(world.releases(), other, 0.5)

    assert f"version {version} ({MODEL} v2) at 20%" in str(raised.value)
    assert state_object(world)["lambda_version"] == version  # type: ignore[index]


def test_a_racing_start_loses_at_the_conditional_put(
    world: World, shadowable: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both read "no shadow"; the other writer's object lands first, so IfNoneMatch fails.
    _, version = shadowable
    (other,) = released(world, "v3")
    releases = world.releases()
    start_shadow(world.releases(), other, 0.5)
    real = current_shadow
    calls: list[str | None] = []

    def first_sees_nothing(r: Any, model: str | None = None) -> Any:
        calls.append(model)
        return None if len(calls) == 1 else real(r, model)

    monkeypatch.setattr("modelship.releases.shadow.current_shadow", first_sees_nothing)

    with pytest.raises(ShadowAlreadyRunning) as raised:
        start_shadow(releases, version, 0.2)

    assert "started meanwhile" in str(raised.value)
    assert f"version {other}" in str(raised.value)
    assert state_object(world)["lambda_version"] == other  # type: ignore[index]
    assert [r.action for r in world.history()].count("shadow_start") == 1


@pytest.mark.parametrize("which", ["stable", "candidate"])
def test_the_stable_release_and_the_canary_candidate_cannot_be_shadows(
    world: World, shadowable: tuple[str, str], which: str
) -> None:
    stable, version = shadowable
    world.releases().start_canary(0.1, version)
    target = stable if which == "stable" else version

    with pytest.raises(InvalidShadow) as raised:
        start_shadow(world.releases(), target, 0.2)

    assert (
        raised.value.reason == {"stable": "already_stable", "candidate": "canary_candidate"}[which]
    )
    assert state_object(world) is None


def test_a_release_of_the_stable_model_or_no_release_cannot_be_a_shadow(
    world: World, shadowable: tuple[str, str]
) -> None:
    (same_model,) = released(world, "v1")

    with pytest.raises(InvalidShadow) as raised:
        start_shadow(world.releases(), same_model, 0.2)
    assert raised.value.reason == "same_model"
    with pytest.raises(ReleaseNotFound):
        start_shadow(world.releases(), "99", 0.2)
    with pytest.raises(ReleaseNotFound):
        start_shadow(world.releases(), "1", 0.2)  # the bootstrap version pins no model
    with pytest.raises(InvalidShadow) as bad_rate:
        start_shadow(world.releases(), shadowable[1], 1.5)
    assert bad_rate.value.reason == "invalid_sample_rate"
    assert state_object(world) is None


def test_the_live_report_reads_the_shadow_metrics_of_its_model_version(
    world: World, shadowable: tuple[str, str]
) -> None:
    stable, version = shadowable
    state = start_shadow(world.releases(), version, 1.0)
    put_shadow_metrics(
        world,
        "v2",
        requests=40,
        errors=1,
        rows=80,
        agreeing=76,
        diff_sum=4.0,
        diff_max=0.5,
        mirrored_by="v1",
    )
    put_shadow_metrics(world, "v3", requests=999, rows=999, agreeing=0)  # another version's

    report = shadow_report(world.releases(), state)

    assert (report.lambda_version, report.model_version) == (version, "v2")
    assert (report.stable_lambda_version, report.stable_model_version) == (stable, "v1")
    assert report.mirrored == 40
    assert (report.requests, report.errors) == (40, 1)
    assert report.error_rate == pytest.approx(0.025)
    assert (report.rows, report.agreeing_rows) == (80, 76)
    assert report.agreement == pytest.approx(0.95)
    assert report.mean_score_diff == pytest.approx(0.05)
    assert report.max_score_diff == 0.5
    assert report.final is False


def test_stop_keeps_the_final_report_write_once_records_it_and_ends_mirroring(
    world: World, shadowable: tuple[str, str]
) -> None:
    _, version = shadowable
    start_shadow(world.releases(), version, 0.5)
    put_shadow_metrics(world, "v2", requests=10, rows=10, agreeing=10, mirrored_by="v1")

    report = stop_shadow(world.releases(), reason="enough seen")

    assert report.final is True
    assert state_object(world) is None
    assert current_shadow(world.releases()) is None
    key = report_key(report)
    assert key.startswith(names.shadow_reports_prefix(MODEL))
    stored = json.loads(world.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert stored["requests"] == 10
    assert stored["agreement"] == 1.0
    assert stored["final"] is True
    record = world.history()[-1]
    assert record.action == "shadow_stop"
    assert record.to_version == version
    assert record.details == stored
    assert record.reason == "enough seen"
    with pytest.raises(NoShadow):
        stop_shadow(world.releases())


def test_promote_stops_the_shadow_and_starts_a_canary_of_its_version(
    world: World, shadowable: tuple[str, str]
) -> None:
    stable, version = shadowable
    start_shadow(world.releases(), version, 0.2)
    put_shadow_metrics(world, "v2", requests=300, rows=300, agreeing=297, mirrored_by="v1")

    report, outcome = promote_shadow(world.releases())

    assert report.final is True
    assert report.agreement == pytest.approx(0.99)
    assert outcome.action == "canary_start"
    assert world.weights() == {version: 0.05}
    assert world.alias()["FunctionVersion"] == stable
    assert state_object(world) is None
    assert [r.action for r in world.history()][-2:] == ["shadow_stop", "canary_start"]


def test_promote_refuses_a_shadow_that_disagrees_unless_forced(
    world: World, shadowable: tuple[str, str]
) -> None:
    _, version = shadowable
    start_shadow(world.releases(), version, 0.2)
    put_shadow_metrics(world, "v2", requests=100, errors=5, rows=100, agreeing=60)

    with pytest.raises(ShadowNotPromotable) as raised:
        promote_shadow(world.releases(), weight=0.1)

    assert "failed 5.00%" in str(raised.value)
    assert "agreed with the served answer on 60.00%" in str(raised.value)
    assert state_object(world) is not None  # nothing changed
    assert world.weights() == {}

    report, _ = promote_shadow(world.releases(), weight=0.1, force=True)
    assert report.agreement == pytest.approx(0.6)
    assert world.weights() == {version: 0.1}


def test_promote_refuses_while_a_canary_runs_and_keeps_the_shadow(
    world: World, shadowable: tuple[str, str]
) -> None:
    _, version = shadowable
    (canary,) = released(world, "v3")
    start_shadow(world.releases(), version, 0.2)
    world.releases().start_canary(0.1, canary)

    with pytest.raises(CanaryInProgress):
        promote_shadow(world.releases(), force=True)

    assert state_object(world) is not None
    assert world.weights() == {canary: 0.1}


def test_promote_or_report_without_a_shadow_is_refused(
    world: World, shadowable: tuple[str, str]
) -> None:
    with pytest.raises(NoShadow) as raised:
        promote_shadow(world.releases())

    assert "shadow start" in str(raised.value)


def test_the_report_compares_latency_percentiles_with_the_stable_release(
    world: World, shadowable: tuple[str, str]
) -> None:
    # CloudWatch computes percentiles from the stored values; moto learns them here as the
    # emulator does (modelship.local.moto_patches).
    from modelship.local.moto_patches import extended_statistics, ordered_dimensions

    _, version = shadowable
    state = start_shadow(world.releases(), version, 1.0)
    put_shadow_metrics(world, "v2", requests=100, rows=100, agreeing=100)
    for latency in range(1, 101):
        put_latency(world, "v1", float(latency), names.METRIC_MODEL_LATENCY)
        put_latency(world, "v2", 2.0 * latency)

    with ordered_dimensions(), extended_statistics():
        report = shadow_report(world.releases(), state)

    assert report.percentiles_note == ""
    assert report.stable_latency.samples == 100
    assert (report.stable_latency.p50_ms, report.stable_latency.p99_ms) == (50.0, 99.0)
    assert (report.shadow_latency.p50_ms, report.shadow_latency.p99_ms) == (100.0, 198.0)
    assert "shadow p50 100.0 ms, p99 198.0 ms" in report.summary()


def put_latency(
    world: World,
    model_version: str,
    latency_ms: float,
    metric: str = names.METRIC_SHADOW_LATENCY,
) -> None:
    world.cloudwatch.put_metric_data(
        Namespace=names.METRICS_NAMESPACE,
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [
                    {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
                    {"Name": names.METRIC_DIMENSION_MODEL, "Value": MODEL},
                    {"Name": names.METRIC_DIMENSION_MODEL_VERSION, "Value": model_version},
                ],
                "Value": latency_ms,
                "Unit": "Milliseconds",
            }
        ],
    )


def test_a_stop_that_failed_after_its_report_finishes_on_the_next_try(
    world: World, shadowable: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, version = shadowable
    start_shadow(world.releases(), version, 0.5)
    put_shadow_metrics(world, "v2", requests=10, rows=10, agreeing=9)
    releases = world.releases()

    def fail(**_: Any) -> None:
        raise ConnectionError("network gone")

    monkeypatch.setattr(releases.s3, "delete_object", fail)
    with pytest.raises(ConnectionError):
        stop_shadow(releases)
    assert state_object(world) is not None  # still running; its report is written
    monkeypatch.undo()
    put_shadow_metrics(world, "v2", requests=5, rows=5, agreeing=0)  # after the first try

    report = stop_shadow(world.releases())

    assert report.requests == 10  # the report written first stands
    assert state_object(world) is None
    stops = [r for r in world.history() if r.action == "shadow_stop"]
    assert len(stops) == 1
    assert stops[0].details == report.model_dump(mode="json")
    with pytest.raises(NoShadow):
        stop_shadow(world.releases())


def test_a_racing_stop_finds_the_shadow_stopped_and_records_nothing(
    world: World, shadowable: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, version = shadowable
    state = start_shadow(world.releases(), version, 0.5)
    first = world.releases()
    second = world.releases()
    # The second read the state before the first stopped it.
    monkeypatch.setattr("modelship.releases.shadow._running", lambda releases: state)
    stop_shadow(first)

    with pytest.raises(NoShadow) as raised:
        stop_shadow(second)

    assert "stopped meanwhile" in str(raised.value)
    assert [r.action for r in world.history()].count("shadow_stop") == 1
