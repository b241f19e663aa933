"""`modelship models card NAME [VERSION]`: the stored card, as Markdown, HTML, a file or a page
opened in the browser; and the flags that fill a card's intended use and limitations."""

from __future__ import annotations

import json
import shutil
import webbrowser
from pathlib import Path
from typing import Any

import joblib
import pytest

from modelship.cli import main
from modelship.packaging.packager import package
from modelship.registry.manifest import ModelDescription, copy_as_version, read_manifest_dir
from modelship.registry.registry import Registry, card_key
from tests.conftest import BUCKET
from tests.integration.cli.test_deployment_commands import STACK
from tests.integration.cli.test_registry_commands import deployment  # noqa: F401 (fixture)
from tests.notebook_models import churn_frame, dataframe_pipeline

HOSTILE = "<script>alert(1)</script>"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def described(s3: Any, reference_model_dir: Path, tmp_path: Path) -> Any:
    """churn v1 (the reference model) and v2, whose owner stated its use and a hostile note."""
    registry = Registry(s3, BUCKET)
    registry.publish(reference_model_dir)
    v2 = copy_as_version(reference_model_dir, tmp_path / "v2", "v2")
    manifest = read_manifest_dir(v2).model_copy(
        update={
            "description": ModelDescription(
                intended_use="Rank customers for retention calls.",
                owner="Retention team",
                limitations=(f"Owner's note {HOSTILE}",),
            )
        }
    )
    (v2 / "manifest.json").write_text(manifest.to_json())
    registry.publish(v2)
    return s3


def test_card_prints_the_latest_versions_stored_markdown(
    described: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "models", "card", "churn", "--bucket", BUCKET)

    assert status == 0, err
    assert out.startswith("# Model card: churn v2\n")
    assert "Rank customers for retention calls." in out
    assert "| v1 (recorded on its own holdout, not compared on the same rows) |" in out
    assert out == stored(described, html=False)


def stored(s3: Any, *, html: bool) -> str:
    """churn v2's card as stored."""
    key = card_key("churn", "v2", html=html)
    return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


def test_card_html_escapes_every_value(described: Any, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "models", "card", "churn", "v2", "--html", "--bucket", BUCKET)

    assert status == 0, err
    assert out.startswith("<!DOCTYPE html>")
    assert "<script" not in out
    assert "Owner&#x27;s note &lt;script&gt;alert(1)&lt;/script&gt;" in out


def test_card_of_an_older_version_by_name_and_version(
    described: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "models", "card", "churn", "v1", "--bucket", BUCKET)

    assert status == 0, err
    assert out.startswith("# Model card: churn v1\n")
    assert "Intended use: not stated." in out


def test_card_out_writes_the_file(
    described: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "card.html"

    status, out, err = run(
        capsys, "models", "card", "churn", "--html", "--out", str(target), "--bucket", BUCKET
    )

    assert status == 0, err
    assert out.strip() == f"wrote the html card of churn v2 to {target}"
    assert target.read_text() == stored(described, html=True)


def test_card_open_writes_the_html_to_a_temp_file_and_opens_it(
    described: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)

    status, out, err = run(
        capsys, "models", "card", "churn", "--open", "--bucket", BUCKET, "--output", "json"
    )

    assert status == 0, err
    answer = json.loads(out)
    page = Path(answer["path"])
    try:
        assert opened == [page.as_uri()]
        assert page.read_text() == stored(described, html=True)
        assert (answer["format"], answer["stored"]) == ("html", True)
    finally:
        page.unlink()


def test_card_open_and_out_together_are_refused(
    described: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys,
        "models",
        "card",
        "churn",
        "--open",
        "--out",
        str(tmp_path / "x"),
        "--bucket",
        BUCKET,
    )

    assert status == 1
    assert "give --open or --out, not both" in err
    assert not (tmp_path / "x").exists()


def test_a_version_without_a_stored_card_is_rendered_from_its_manifest(
    s3: Any, published: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    for html in (False, True):
        s3.delete_object(Bucket=BUCKET, Key=card_key("churn", "v1", html=html))

    status, out, err = run(
        capsys, "models", "card", "churn", "--bucket", BUCKET, "--output", "json"
    )

    assert status == 0, err
    answer = json.loads(out)
    assert answer["stored"] is False
    assert "No card is stored for churn v1" in answer["card"]
    assert "| Artifact sha256 | " + published.artifact.sha256 + " |" in answer["card"]


def test_card_resolves_the_model_and_bucket_like_models_show(
    deployment: Any,  # noqa: F811 (fixture)
    published: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(
        capsys, "models", "card", "--stack", STACK, "--model", "churn", "--version", "v1"
    )
    assert status == 0, err
    assert out.startswith("# Model card: churn v1\n")

    status, _, err = run(capsys, "models", "card", "churn", "v1", "--model", "churn-forest")
    assert status == 1
    assert "name different models" in err
    status, _, err = run(capsys, "models", "card", "churn", "v9", "--stack", STACK)
    assert status == 1
    assert "model_not_found" in err


def test_train_flags_fill_the_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m"

    status, _, err = run(
        capsys,
        *("train", "--out", str(out), "--rows", "600"),
        *("--summary", "Churn risk.", "--intended-use", "Retention calls only."),
        *("--owner", "Retention team", "--limitation", "EU only", "--limitation", "No B2B"),
    )

    assert status == 0, err
    assert read_manifest_dir(out).description == ModelDescription(
        summary="Churn risk.",
        intended_use="Retention calls only.",
        owner="Retention team",
        limitations=("EU only", "No B2B"),
    )


def test_a_bad_description_flag_is_refused_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(
        capsys, "train", "--out", str(tmp_path / "m"), "--owner", "x" * 201, "--rows", "600"
    )

    assert status == 1
    assert "invalid_description" in err
    assert "owner" in err
    assert not (tmp_path / "m").exists()


def test_package_flags_and_the_python_api_fill_the_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = churn_frame()
    model = dataframe_pipeline().fit(frame.drop(columns=["churned"]), frame["churned"])
    joblib.dump(model, tmp_path / "churn.joblib")
    frame.to_csv(tmp_path / "churn.csv", index=False)

    status, _, err = run(
        capsys,
        *("models", "package", str(tmp_path / "churn.joblib"), "--sample"),
        *(str(tmp_path / "churn.csv"), "--target", "churned", "--out", str(tmp_path / "cli")),
        *("--intended-use", "Ranking.", "--limitation", "Sample of 300 rows"),
    )
    api = package(
        model,
        frame,
        name="churn",
        out=tmp_path / "api",
        description={"owner": "Data science", "limitations": ["Fitted in a notebook"]},
    )

    assert status == 0, err
    cli = read_manifest_dir(tmp_path / "cli")
    assert cli.description == ModelDescription(
        intended_use="Ranking.", limitations=("Sample of 300 rows",)
    )
    assert cli.training_data.label_fractions.keys() == {"0", "1"}
    assert api.description == ModelDescription(
        owner="Data science", limitations=("Fitted in a notebook",)
    )
    shutil.rmtree(tmp_path / "api")
