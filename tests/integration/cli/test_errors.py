"""Every CLI failure is one line on stderr (one JSON object under --output json) carrying its
reason code, and exits 1: AWS errors included, never a botocore traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelship.cli import main
from tests.conftest import BUCKET
from tests.integration.release_world import FUNCTION, World, released, stable_on


def _failure(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    status = main(argv)
    out, err = capsys.readouterr()
    assert status == 1, (out, err)
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def _json_failure(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    err = _failure(capsys, [*argv, "--output", "json"])
    document: dict[str, Any] = json.loads(err)
    return document["error"]


def test_no_credentials_is_one_line_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3's default session keeps the credentials an earlier test in this process resolved.
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    err = _failure(capsys, ["models", "list", "--bucket", BUCKET])

    assert err.startswith("error [no_credentials]: ")
    assert _json_failure(capsys, ["models", "list", "--bucket", BUCKET])["reason"] == (
        "no_credentials"
    )


def test_an_endpoint_that_is_down_is_one_line_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    err = _failure(capsys, ["models", "list", "--bucket", BUCKET])

    assert err.startswith("error [endpoint_unreachable]: ")
    assert "127.0.0.1:9" in err


def test_a_wrong_bucket_is_one_line_with_its_reason(
    s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _failure(capsys, ["models", "list", "churn", "--bucket", "no-such-bucket"])

    assert err.startswith("error [bucket_not_found]: ")
    assert "no-such-bucket" in err
    error = _json_failure(capsys, ["models", "list", "--bucket", "no-such-bucket"])
    assert error["reason"] == "bucket_not_found"


def test_a_wrong_function_is_one_line_with_its_reason(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _failure(capsys, ["status", "--function", "no-such-function", "--bucket", BUCKET])

    assert err.startswith("error [resource_not_found]: ")


def test_release_refusals_print_their_documented_reason_codes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    target = ["--function", FUNCTION, "--bucket", BUCKET]
    stable_on(world, "v1")
    # A feature fewer than the stable release's callers send.
    features = [f.model_dump() for f in world.manifests["v1"].features][:-1]
    world.publish_model("narrow", features=features)
    capsys.readouterr()

    err = _failure(capsys, ["release", "create", "narrow", *target])
    error = _json_failure(capsys, ["release", "create", "narrow", *target])

    assert err.startswith("error [schema_changed]: ")
    assert error["reason"] == "schema_changed"
    assert error["message"] in err


def test_missing_flags_exit_1_with_a_usage_reason(capsys: pytest.CaptureFixture[str]) -> None:
    err = _failure(capsys, ["canary", "start", "--function", FUNCTION, "--bucket", BUCKET])

    assert err.startswith("error [usage]: ")
    assert "--weight" in err
    error = _json_failure(capsys, ["canary", "start", "--function", FUNCTION, "--bucket", BUCKET])
    assert error["reason"] == "usage"


def test_a_closed_pipe_ends_the_command_quietly(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `modelship history | head -1`: the reader is gone before everything is written.
    class ClosedPipe:
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    stable_on(world, "v1")
    released(world, "v2")
    monkeypatch.setattr("sys.stdout", ClosedPipe())

    status = main(["history", "--function", FUNCTION, "--bucket", BUCKET])

    assert status == 1
    assert capsys.readouterr().err == ""


def test_a_directory_where_a_file_is_expected_is_one_line_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _failure(capsys, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")])

    assert err.startswith("error [file_error]: ")
    assert str(tmp_path) in err
