"""`models publish|list|show` and `invoke` against a deployment, through the CLI against moto:
`--stack` reads the model directory in SSM for the bucket its models share, `--model` names
the model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelship.cli import main
from modelship.registry.registry import Registry, artifact_key
from tests.conftest import BUCKET
from tests.integration.cli.test_deployment_commands import STACK, entry, put_entry

OTHER_BUCKET = "modelship-other-models"


@pytest.fixture
def deployment(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Stack STACK deploys churn (the default) and churn-forest, both on BUCKET; an exported
    MODELSHIP_BUCKET names another bucket, as a shell set up for another deployment would."""
    for key in ("MODELSHIP_STACK", "MODELSHIP_MODEL", "MODEL_BUCKET", "MODEL_NAME"):
        monkeypatch.delenv(key, raising=False)
    ssm = boto3.client("ssm", region_name="us-east-1")
    put_entry(ssm, entry("churn", "modelship-predict", default=True), "churn")
    put_entry(ssm, entry("churn-forest", "modelship-predict-forest"), "churn-forest")
    s3.create_bucket(Bucket=OTHER_BUCKET)
    monkeypatch.setenv("MODELSHIP_BUCKET", OTHER_BUCKET)
    return ssm


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = main([*argv, "--output", "json"])
    out, err = capsys.readouterr()
    return status, (json.loads(out) if out.strip() else None), err


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_publish_with_a_stack_lands_where_the_release_commands_look(
    deployment: Any, s3: Any, reference_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, published, err = run(
        capsys, "models", "publish", str(reference_model_dir), "--stack", STACK, "--model", "churn"
    )

    assert status == 0, err
    assert err == ""  # churn is deployed: no warning
    assert published["location"] == f"s3://{BUCKET}/models/churn/v1/"
    assert artifact_key("churn", "v1") in keys(s3, BUCKET)
    assert keys(s3, OTHER_BUCKET) == []

    status, listing, err = run(capsys, "models", "list", "--stack", STACK, "--model", "churn")
    assert status == 0, err
    assert (listing["name"], [v["version"] for v in listing["versions"]]) == ("churn", ["v1"])
    status, shown, err = run(capsys, "models", "show", "--stack", STACK, "--model", "churn")
    assert status == 0, err
    assert (shown["name"], shown["version"]) == ("churn", "v1")
    status, names, _ = run(capsys, "models", "list", "--stack", STACK)
    assert names == {"models": ["churn"]}


def test_publish_refuses_a_model_dir_holding_another_model(
    deployment: Any, s3: Any, reference_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["models", "publish", str(reference_model_dir), "--stack", STACK]

    status, _, err = run(capsys, *argv, "--model", "churn-forest")

    assert status == 1
    assert json.loads(err)["error"] == {
        "reason": "usage",
        "message": f"{reference_model_dir} holds model 'churn' (its manifest's name), not "
        "--model 'churn-forest'",
    }
    assert keys(s3, BUCKET) == []


def test_publishing_a_model_the_stack_does_not_deploy_warns_and_publishes(
    deployment: Any,
    s3: Any,
    reference_model_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ltv = shutil.copytree(reference_model_dir, tmp_path / "ltv")
    manifest = json.loads((ltv / "manifest.json").read_text())
    (ltv / "manifest.json").write_text(json.dumps({**manifest, "name": "ltv"}))

    status, published, err = run(capsys, "models", "publish", str(ltv), "--stack", STACK)

    assert status == 0, err
    assert err == (
        f"warning: stack {STACK} deploys no model 'ltv' (its models: churn, churn-forest): no "
        "function of it serves this model\n"
    )
    assert published["location"] == f"s3://{BUCKET}/models/ltv/v1/"


def test_an_explicit_bucket_wins_over_the_stacks(
    deployment: Any, s3: Any, reference_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--stack", STACK, "--bucket", OTHER_BUCKET]

    status, published, err = run(capsys, "models", "publish", str(reference_model_dir), *argv)

    assert status == 0, err
    assert published["location"].startswith(f"s3://{OTHER_BUCKET}/")
    assert run(capsys, "models", "list", *argv)[1] == {"models": ["churn"]}
    assert run(capsys, "models", "list", "--stack", STACK)[1] == {"models": []}


def test_models_naming_different_buckets_are_refused(
    deployment: Any, reference_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    put_entry(
        deployment,
        entry("churn-forest", "modelship-predict-forest", bucket=OTHER_BUCKET),
        "churn-forest",
    )

    status, _, err = run(capsys, "models", "publish", str(reference_model_dir), "--stack", STACK)

    assert status == 1
    assert json.loads(err)["error"] == {
        "reason": "invalid_model_directory",
        "message": f"the models of stack {STACK} name different buckets ({BUCKET}: churn; "
        f"{OTHER_BUCKET}: churn-forest): pass --bucket",
    }


def test_list_and_show_refuse_two_different_names(
    deployment: Any, published: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = ["--stack", STACK]

    status, _, err = run(capsys, "models", "list", "churn", "--model", "churn-forest", *stack)
    assert status == 1
    assert json.loads(err)["error"]["message"] == (
        "NAME 'churn' and --model 'churn-forest' name different models: give one"
    )
    status, _, err = run(capsys, "models", "show", "v1", "--model", "churn", *stack)
    assert status == 1
    assert "(for a version of churn, give --version v1)" in json.loads(err)["error"]["message"]

    status, shown, err = run(
        capsys, "models", "show", "--model", "churn", "--version", "v1", *stack
    )
    assert status == 0, err
    assert shown["version"] == "v1"
    assert run(capsys, "models", "show", "churn", "v1", "--model", "churn", *stack)[0] == 0


def test_show_takes_the_model_from_the_environment(
    deployment: Any,
    published: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSHIP_STACK", STACK)
    monkeypatch.setenv("MODELSHIP_MODEL", "churn")

    status, shown, err = run(capsys, "models", "show")
    assert status == 0, err
    assert shown["name"] == "churn"
    # `list` without a name lists the names whatever MODELSHIP_MODEL says
    assert run(capsys, "models", "list")[1] == {"models": ["churn"]}


def test_invoke_with_a_stack_and_model_serves_it_from_the_stacks_bucket(
    deployment: Any, s3: Any, reference_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Registry(s3, BUCKET).publish(reference_model_dir)
    argv = ["invoke", "--event", "predict_valid", "--stack", STACK]

    status, answer, err = run(capsys, *argv, "--model", "churn")

    assert status == 0, err
    assert answer["statusCode"] == 200
    assert answer["body"]["model_version"] == "v1"

    status, _, err = run(capsys, *argv)  # two models: which one?
    assert status == 1
    assert json.loads(err)["error"]["reason"] == "model_required"
