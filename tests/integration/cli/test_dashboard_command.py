"""`modelship dashboard` against moto SSM (the AWS console URL) and a moto server standing in
for a running emulator (its local page); clear errors for what cannot be resolved."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.server import ThreadedMotoServer

from modelship import names
from modelship.cli import main
from tests.integration.cli.test_deployment_commands import entry, put_entry

STACK = "modelship-test"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main([*argv, "--output", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def _directory(ssm: Any, stack: str = STACK) -> None:
    # The name as the stack resolves it in the directory entry: with the stack's Region.
    region = ssm.meta.region_name
    for model, default in (("churn", True), ("churn-forest", False)):
        dashboard = names.dashboard_name(stack, model, region)
        put_entry(
            ssm, entry(model, f"fn-{model}", default=default, dashboard=dashboard), model, stack
        )


@pytest.fixture
def aws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("MODELSHIP_STACK", raising=False)
    monkeypatch.delenv("MODELSHIP_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)  # no emulator state in ./.modelship/local
    with mock_aws():
        ssm = boto3.client("ssm", region_name="eu-west-1")
        _directory(ssm)
        yield ssm


def test_on_aws_it_prints_the_console_url_of_the_models_dashboard(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    status, out, _ = run(capsys, "dashboard", "--stack", STACK, "--model", "churn-forest")
    text_status = main(["dashboard", "--stack", STACK, "--model", "churn", "--open"])
    text = capsys.readouterr().out.strip()

    assert status == 0
    assert out == {
        "stack": STACK,
        "model": "churn-forest",
        "dashboard": "modelship-test-churn-forest-eu-west-1",
        "where": "aws",
        "url": "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
        "#dashboards/dashboard/modelship-test-churn-forest-eu-west-1",
    }
    assert text_status == 0
    assert text.endswith("#dashboards/dashboard/modelship-test-churn-eu-west-1")
    assert opened == [text]


@pytest.mark.parametrize(
    ("region", "console"),
    [
        ("us-east-2", "https://us-east-2.console.aws.amazon.com"),
        ("cn-north-1", "https://cn-north-1.console.amazonaws.cn"),
        ("us-gov-west-1", "https://us-gov-west-1.console.amazonaws-us-gov.com"),
    ],
)
def test_the_console_is_the_one_of_the_regions_partition(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    region: str,
    console: str,
) -> None:
    monkeypatch.setenv("AWS_REGION", region)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    with mock_aws():
        _directory(boto3.client("ssm", region_name=region))
        status, out, _ = run(capsys, "dashboard", "--stack", STACK, "--model", "churn")

    assert status == 0
    assert out["url"] == (
        f"{console}/cloudwatch/home?region={region}"
        f"#dashboards/dashboard/modelship-test-churn-{region}"
    )


def test_a_region_outside_the_known_consoles_partitions_is_refused_by_name(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "boto3.session.Session.get_partition_for_region", lambda self, region: "aws-iso"
    )

    status, _, err = run(capsys, "dashboard", "--stack", STACK, "--model", "churn")

    assert status == 1
    message = json.loads(err)["error"]["message"]
    assert "aws-iso" in message
    assert "modelship-test-churn-eu-west-1" in message


@pytest.mark.parametrize(
    ("argv", "reason", "says"),
    [
        (["--stack", STACK], "model_required", "churn, churn-forest"),
        (["--stack", STACK, "--model", "nope"], "model_not_deployed", "no model 'nope'"),
        (["--stack", "other", "--model", "churn"], "deployment_not_found", "stack other"),
        (["--model", "churn"], "usage", "--stack"),
    ],
)
def test_unknown_stacks_and_models_are_refused_by_name(
    aws: Any, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str, says: str
) -> None:
    status, _, err = run(capsys, "dashboard", *argv)

    assert status == 1
    failure = json.loads(err)["error"]
    assert failure["reason"] == reason
    assert says in failure["message"]


def test_a_stack_deployed_before_dashboards_says_so(
    aws: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    put_entry(aws, entry("old", "fn-old"), "old", "older-stack")

    status, _, err = run(capsys, "dashboard", "--stack", "older-stack")

    assert status == 1
    assert "lists no dashboard" in json.loads(err)["error"]["message"]


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A moto server holding the directory, and the state file a running emulator writes."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    environment = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "MODELSHIP_API_URL": "http://127.0.0.1:3999",
        "MODELSHIP_STACK": "local-stack",
    }
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    state = {"pid": os.getpid(), "endpoints": {
        "api_url": environment["MODELSHIP_API_URL"], "aws_endpoint": endpoint,
        "environment": environment,
    }}  # fmt: skip
    (state_dir / "emulator.json").write_text(json.dumps(state))
    monkeypatch.delenv("MODELSHIP_STACK", raising=False)
    try:
        _directory(
            boto3.client("ssm", endpoint_url=endpoint, region_name="us-east-1"), "local-stack"
        )
        yield {"state_dir": str(state_dir), **environment}
    finally:
        server.stop()


def test_with_a_running_emulator_it_prints_the_local_page(
    emulator: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found through its state file (the stack from the environment it exports) ...
    status, out, _ = run(
        capsys, "dashboard", "--state-dir", emulator["state_dir"], "--model", "churn"
    )
    # ... or through AWS_ENDPOINT_URL and MODELSHIP_API_URL, as `local up` exports them.
    for key in ("AWS_ENDPOINT_URL", "MODELSHIP_API_URL", "MODELSHIP_STACK"):
        monkeypatch.setenv(key, emulator[key])
    exported, out2, _ = run(
        capsys, "dashboard", "--state-dir", "nowhere", "--model", "churn-forest"
    )

    assert status == 0
    assert out["url"] == "http://127.0.0.1:3999/_local/dashboards/local-stack-churn-us-east-1"
    assert out["where"] == "local"
    assert exported == 0
    assert out2["url"] == (
        "http://127.0.0.1:3999/_local/dashboards/local-stack-churn-forest-us-east-1"
    )


def test_an_endpoint_without_an_emulator_to_match_is_refused(
    aws: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("MODELSHIP_API_URL", raising=False)

    status, _, err = run(capsys, "dashboard", "--stack", STACK, "--model", "churn")

    assert status == 1
    assert "MODELSHIP_API_URL" in json.loads(err)["error"]["message"]
