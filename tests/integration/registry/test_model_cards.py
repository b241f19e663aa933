"""Publishing writes the model card (card.md, card.html) beside the artifact, write-once and
before the manifest; a retried publish finds its own card."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from modelship.errors import VersionConflict
from modelship.registry.card import PREVIOUS_LABEL, CardContext, ChampionRecord, GateRecord
from modelship.registry.manifest import copy_as_version
from modelship.registry.registry import Registry, card_key, manifest_key
from tests.conftest import BUCKET


def put_keys(s3: Any) -> list[str]:
    """Records the key of every PutObject made through `s3`, in order."""
    keys: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def body(s3: Any, key: str) -> str:
    return str(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode())


def test_publish_writes_both_cards_after_the_artifact_and_before_the_manifest(
    s3: Any, model_dir: Path
) -> None:
    puts = put_keys(s3)

    Registry(s3, BUCKET).publish(model_dir)

    assert puts == [
        "models/churn/v1/model.joblib",
        "models/churn/v1/card.md",
        "models/churn/v1/card.html",
        "models/churn/v1/manifest.json",
    ]
    markdown = body(s3, card_key("churn", "v1"))
    assert markdown.startswith("# Model card: churn v1\n")
    assert "Not gated" in markdown
    head = s3.head_object(Bucket=BUCKET, Key=card_key("churn", "v1", html=True))
    assert head["ContentType"] == "text/html; charset=utf-8"
    page = body(s3, card_key("churn", "v1", html=True))
    assert head["Metadata"]["sha256"] == hashlib.sha256(page.encode()).hexdigest()
    assert Registry(s3, BUCKET).stored_card("churn", "v1") == markdown


def test_a_direct_publish_shows_the_previous_versions_metrics_labelled(
    s3: Any, model_dir: Path, tmp_path: Path
) -> None:
    registry = Registry(s3, BUCKET)
    registry.publish(model_dir)

    registry.publish(copy_as_version(model_dir, tmp_path / "v2", "v2"))

    card = body(s3, card_key("churn", "v2"))
    assert f"| Metric | This version | v1 ({PREVIOUS_LABEL}) |" in card
    assert "no earlier version" in body(s3, card_key("churn", "v1"))


def test_a_retrained_version_card_names_its_champion_and_gates(s3: Any, model_dir: Path) -> None:
    context = CardContext(
        run_id="run-7",
        data_uri="s3://b/datasets/churn/new.csv",
        challenger_metrics={"roc_auc": 0.93},
        champion=ChampionRecord(version="v0", metrics={"roc_auc": 0.88}),
        gates=(
            GateRecord(name="min_roc_auc", passed=True, value=0.93, threshold=0.85, detail="ok"),
        ),
        decision="all 1 gates passed",
    )

    Registry(s3, BUCKET).publish(model_dir, card=context)

    card = body(s3, card_key("churn", "v1"))
    assert "| roc_auc | 0.9300 | 0.8800 |" in card
    assert "| Metric | This version | Champion v0 |" in card
    assert "| min_roc_auc | passed | 0.93 | 0.85 | ok |" in card
    assert "Champion v0" in body(s3, card_key("churn", "v1", html=True))


def test_a_publish_interrupted_before_the_manifest_completes_with_the_same_card(
    s3: Any, model_dir: Path
) -> None:
    registry = Registry(s3, BUCKET)
    registry.publish(model_dir)
    first = body(s3, card_key("churn", "v1"))
    s3.delete_object(Bucket=BUCKET, Key=manifest_key("churn", "v1"))  # died before the manifest

    manifest = registry.publish(model_dir)

    assert registry.show("churn", "v1") == manifest
    assert body(s3, card_key("churn", "v1")) == first
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=card_key("churn", "v1"))
    assert len(versions["Versions"]) == 1  # the card was not written again


def test_a_card_with_other_bytes_stops_the_publish_before_the_manifest(
    s3: Any, model_dir: Path
) -> None:
    s3.put_object(Bucket=BUCKET, Key=card_key("churn", "v1", html=True), Body=b"<p>not ours</p>")

    with pytest.raises(VersionConflict, match="already published"):
        Registry(s3, BUCKET).publish(model_dir)

    assert body(s3, card_key("churn", "v1", html=True)) == "<p>not ours</p>"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=manifest_key("churn", "v1"))
    assert "Contents" not in listed


def test_a_version_published_before_cards_has_no_stored_card(s3: Any, model_dir: Path) -> None:
    registry = Registry(s3, BUCKET)
    registry.publish(model_dir)
    for html in (False, True):
        s3.delete_object(Bucket=BUCKET, Key=card_key("churn", "v1", html=html))

    assert registry.stored_card("churn", "v1") is None
    assert registry.stored_card("churn", "v1", html=True) is None
