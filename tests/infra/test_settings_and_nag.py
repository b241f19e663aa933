"""Context validation names the bad key; cdk-nag fails synth on unacknowledged findings."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from infra_cdk.app import build_app, layer_zip
from infra_cdk.settings import (
    RetrainingOptions,
    RetrainingSettingsError,
    Settings,
    SettingsError,
)
from modelship import names


class Context:
    def __init__(self, **values: object) -> None:
        self.values = values

    def try_get_context(self, key: str) -> object:
        return self.values.get(key)


def test_defaults() -> None:
    settings = Settings.from_context(Context())
    assert (settings.stage, settings.model_name, settings.alias_name) == ("dev", "churn", "live")
    assert (settings.architecture, settings.runtime) == ("arm64", "python3.12")
    assert (settings.auth_mode, settings.max_rows, settings.snap_start) == ("iam", 1000, False)
    assert settings.stack_name == "modelship-dev"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("stage", "Prod!"),
        ("modelName", "Churn Model"),
        ("aliasName", "42"),
        ("architecture", "arm32"),
        ("runtime", "python3.11"),
        ("memorySize", 64),
        ("timeout", 31),
        ("timeout", "soon"),
        ("ephemeralStorageMb", 100),
        ("maxRows", 0),
        ("maxRows", 1.5),
        ("authMode", "basic"),
        ("logRetentionDays", 31),
        ("snapStart", "maybe"),
        ("throttleRateLimit", 0),
        ("modelSha256", "xyz"),
    ],
)
def test_bad_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(SettingsError, match=f"'{key}'"):
        Settings.from_context(Context(**{key: value}))


def test_string_values_from_the_command_line_are_parsed() -> None:
    settings = Settings.from_context(
        Context(memorySize="2048", snapStart="true", throttleRateLimit="12.5")
    )
    assert (settings.memory_size, settings.snap_start, settings.throttle_rate_limit) == (
        2048,
        True,
        12.5,
    )


def test_missing_layer_tells_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="make layer"):
        build_app(App(outdir=str(tmp_path)), layer_asset=tmp_path / "absent.zip")


def test_layer_path_follows_runtime_and_architecture() -> None:
    settings = Settings.from_context(Context(architecture="x86_64", runtime="python3.13"))
    assert layer_zip(settings).parts[-3:] == ("build", "python3.13-x86_64", "layer.zip")


def test_cdk_nag_fails_synth_on_an_unacknowledged_finding(stub_layer: Path, tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    stack = build_app(app, layer_asset=stub_layer)
    # No access logs, no TLS-only policy: AwsSolutions-S1 and S10 must stop the synth.
    s3.Bucket(stack, "CarelessBucket")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    assert "AwsSolutions-S1" in report
    assert "CarelessBucket" in report


def test_clean_stack_passes_cdk_nag(stub_layer: Path, tmp_path: Path) -> None:
    app = App(outdir=str(tmp_path))
    build_app(app, layer_asset=stub_layer)
    app.synth()
    assert (tmp_path / "modelship-dev.template.json").is_file()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("trainingAlgorithm", "xgboost"),
        ("retrainSchedule", "rate(7 day)"),
        ("retrainSchedule", "cron(0 3 * * *)"),
        ("sagemakerInstanceType", "m5.xlarge"),
        ("sagemakerInstanceType", "ml.m5"),
    ],
)
def test_bad_retraining_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(RetrainingSettingsError, match=key):
        RetrainingOptions.from_context(Context(**{key: value}))


def test_every_training_algorithm_is_accepted() -> None:
    for algorithm in names.TRAINING_ALGORITHMS:
        assert RetrainingOptions.from_context(Context(trainingAlgorithm=algorithm)).algorithm == (
            algorithm
        )


def _warnings(stub_layer: Path, tmp_path: Path, **context: object) -> list[str]:
    app = App(outdir=str(tmp_path), context=context)
    stack = build_app(app, layer_asset=stub_layer)
    found = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    return [str(w.entry.data) for w in found]


def test_a_bake_shorter_than_the_alarm_period_plus_a_minute_warns(
    stub_layer: Path, tmp_path: Path
) -> None:
    warnings = _warnings(stub_layer, tmp_path, releasePlan="10:90s,50:10m,100")

    (short,) = [w for w in warnings if "releasePlan" in w]
    assert "10%" in short
    assert "90 s" in short
    assert "120 s" in short


def test_bakes_longer_than_the_alarm_period_plus_a_minute_do_not_warn(
    stub_layer: Path, tmp_path: Path
) -> None:
    assert not [w for w in _warnings(stub_layer, tmp_path) if "releasePlan" in w]
