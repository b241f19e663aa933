import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from modelship.cli import main
from modelship.registry.registry import artifact_key
from tests.conftest import BUCKET


def test_train_writes_a_model_and_prints_the_auc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--out", str(tmp_path / "m"), "--rows", "3000", "--output", "json"])

    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["metrics"]["roc_auc"] >= 0.85
    assert (tmp_path / "m" / "model.joblib").stat().st_size == result["artifact"]["size_bytes"]


def test_train_on_a_csv_with_a_declared_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelship.training.churn import generate_churn
    from modelship.training.tables import write_csv

    write_csv(generate_churn(n_rows=800), tmp_path / "data.csv")

    code = main(
        [
            "train",
            "--data",
            str(tmp_path / "data.csv"),
            "--target",
            "churned",
            "--algorithm",
            "random_forest",
            "--param",
            "n_estimators=20",
            "--out",
            str(tmp_path / "m"),
        ]
    )

    assert code == 0
    assert "holdout ROC-AUC" in capsys.readouterr().out


def test_train_with_a_bad_parameter_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--out", str(tmp_path / "m"), "--param", "no_equals_sign"])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error [command_failed]: --param 'no_equals_sign' is not KEY=VALUE")
    assert err.count("\n") == 1


def test_publish_twice_exits_non_zero_and_keeps_the_first_artifact(
    s3: Any, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "publish", str(model_dir), "--bucket", BUCKET]) == 0
    first = s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))["Body"].read()
    capsys.readouterr()

    code = main(["models", "publish", str(model_dir), "--bucket", BUCKET])

    err = capsys.readouterr().err
    assert code == 1
    assert "already published" in err
    assert s3.get_object(Bucket=BUCKET, Key=artifact_key("churn", "v1"))["Body"].read() == first


def test_list_and_show_in_json(s3: Any, published: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["models", "list", "churn", "--bucket", BUCKET, "--output", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert main(["models", "show", "churn", "latest", "--bucket", BUCKET, "--output", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)

    assert [v["version"] for v in listing["versions"]] == ["v1"]
    assert shown["artifact"]["sha256"] == published.artifact.sha256


def test_show_of_an_unknown_version_fails(s3: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["models", "show", "churn", "v9", "--bucket", BUCKET])

    assert code == 1
    assert "not published" in capsys.readouterr().err


def test_invoke_against_a_bucket(
    s3: Any, published: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["invoke", "--event", "predict_valid", "--bucket", BUCKET, "--output", "json"])

    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["statusCode"] == 200
    assert result["body"]["model_version"] == "v1"


def test_invoke_console_script_prints_422_naming_the_missing_field(
    reference_model_dir: Path, tmp_path: Path
) -> None:
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "modelship"),
            "invoke",
            "--event",
            "events/predict_missing_feature.json",
            "--model-dir",
            str(reference_model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("status 422")
    body = json.loads(completed.stdout.split("\n", 1)[1])
    assert body["error"]["details"][0]["field"] == "tenure_months"


def test_listing_an_unknown_model_says_so(
    s3: Any, published: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["models", "list", "chrun", "--bucket", BUCKET])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error [model_not_found]: ")
    assert "chrun" in err
    assert "churn" in err  # the models that do exist
