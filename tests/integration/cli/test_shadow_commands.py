"""`modelship shadow start|status|stop|promote` and the shadow line of `modelship status`,
against moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelship import names
from modelship.cli import main
from tests.conftest import BUCKET
from tests.integration.release_world import MODEL, World, released, stable_on
from tests.integration.releases.test_shadow import put_shadow_metrics

TARGET = ["--function", "modelship-predict", "--bucket", BUCKET]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Runs a command with --output json; returns (exit status, parsed stdout, stderr)."""
    status = main([*argv, *TARGET, "--output", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def text(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main([*argv, *TARGET])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def versions(world: World) -> tuple[str, str]:
    stable = stable_on(world, "v1")
    (shadow,) = released(world, "v2")
    return stable, shadow


def test_start_status_stop_through_the_cli(
    world: World, versions: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, version = versions
    status, started, _ = run(
        capsys, "shadow", "start", "--version", version, "--sample", "20%", "--reason", "try"
    )
    assert status == 0
    assert started["shadow"]["lambda_version"] == version
    assert started["shadow"]["sample_rate"] == 0.2
    put_shadow_metrics(world, "v2", requests=50, rows=100, agreeing=97, mirrored_by="v1")

    status, shown, _ = run(capsys, "shadow", "status")
    assert status == 0
    assert shown["shadow"]["model_version"] == "v2"
    assert shown["report"]["requests"] == 50
    assert shown["report"]["mirrored"] == 50
    assert shown["report"]["agreement"] == pytest.approx(0.97)

    status, out, _ = text(capsys, "shadow", "status")
    assert status == 0
    assert "agreement  97.00% of 100 rows (3 differ)" in out
    assert "sampling 20%, running" in out

    status, overall, _ = run(capsys, "status")
    assert status == 0
    assert overall["shadow"]["lambda_version"] == version
    status, out, _ = text(capsys, "status")
    assert f"shadow     v{version:<4} {MODEL} v2  20% mirrored since" in out

    status, stopped, _ = run(capsys, "shadow", "stop", "--reason", "seen enough")
    assert status == 0
    assert stopped["report"]["final"] is True
    uri = stopped["report_uri"]
    assert uri.startswith(f"s3://{BUCKET}/{names.shadow_reports_prefix(MODEL)}")
    key = uri.removeprefix(f"s3://{BUCKET}/")
    assert json.loads(world.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())["rows"] == 100

    status, after, _ = run(capsys, "shadow", "status")
    assert status == 0
    assert after == {"shadow": None, "report": None}
    status, out, _ = text(capsys, "shadow", "status")
    assert status == 0
    assert "no shadow running" in out
    assert "shadow start --version N" in out
    assert run(capsys, "status")[1]["shadow"] is None

    status, history, _ = run(capsys, "history")
    actions = [r["action"] for r in history["records"]]
    assert actions[-2:] == ["shadow_start", "shadow_stop"]
    assert history["records"][-1]["details"]["agreement"] == pytest.approx(0.97)


def test_promote_through_the_cli_starts_a_canary_at_the_given_weight(
    world: World, versions: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, version = versions
    assert run(capsys, "shadow", "start", "--version", version, "--sample", "0.5")[0] == 0
    put_shadow_metrics(world, "v2", requests=20, rows=20, agreeing=20)

    status, promoted, _ = run(capsys, "shadow", "promote", "--weight", "10%")

    assert status == 0
    assert promoted["canary"]["action"] == "canary_start"
    assert promoted["report"]["final"] is True
    assert world.weights() == {version: 0.1}


def test_promote_refusal_is_one_line_with_its_reason_and_force_overrides(
    world: World, versions: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, version = versions
    assert run(capsys, "shadow", "start", "--version", version, "--sample", "100%")[0] == 0

    status, out, err = text(capsys, "shadow", "promote")

    assert status == 1
    assert out == ""
    assert err.startswith("error [shadow_not_promotable]: shadow version")
    assert "answered no requests" in err
    assert "--force" in err
    assert world.weights() == {}
    status, out, _ = text(capsys, "shadow", "promote", "--force")
    assert status == 0
    assert "canary" in out
    assert world.weights() == {version: 0.05}


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["shadow", "start", "--version", "{shadow}", "--sample", "150%"], "invalid_sample_rate"),
        (["shadow", "start", "--version", "{shadow}", "--sample", "x"], "invalid_sample_rate"),
        (["shadow", "start", "--version", "{stable}", "--sample", "20%"], "already_stable"),
        (["shadow", "start", "--version", "42", "--sample", "20%"], "release_not_found"),
        (["shadow", "start", "--version", "{shadow}"], "usage"),
        (["shadow", "stop"], "no_shadow"),
        (["shadow", "promote"], "no_shadow"),
    ],
)
def test_refusals_exit_1_naming_their_reason(
    world: World,
    versions: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reason: str,
) -> None:
    stable, shadow = versions
    filled = [a.format(stable=stable, shadow=shadow) for a in argv]

    status, _, err = run(capsys, *filled)

    assert status == 1
    assert json.loads(err)["error"]["reason"] == reason


def test_a_second_start_names_the_running_shadow(
    world: World, versions: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, version = versions
    (other,) = released(world, "v3")
    assert run(capsys, "shadow", "start", "--version", version, "--sample", "20%")[0] == 0

    status, _, err = text(capsys, "shadow", "start", "--version", other, "--sample", "20%")

    assert status == 1
    assert err.startswith("error [shadow_running]: a shadow is already running: version")
    assert f"version {version} (churn v2) at 20%" in err
