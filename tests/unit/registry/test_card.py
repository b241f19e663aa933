"""The model card's content, from a manifest and a retraining run's context: what it says,
what it refuses to invent, and that no value can escape its Markdown or HTML."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from modelship.errors import InvalidManifest
from modelship.registry.card import (
    NOT_STATED,
    PREVIOUS_LABEL,
    CardContext,
    ChampionRecord,
    GateRecord,
    ModelCard,
)
from modelship.registry.card_document import md_text
from modelship.registry.manifest import Manifest, ModelDescription

HOSTILE = '<script>alert("x")</script>'
SHA = "ab" * 32


def manifest(**overrides: Any) -> Manifest:
    document: dict[str, Any] = {
        "name": "churn",
        "version": "v2",
        "created_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        "task": "classification",
        "classes": [0, 1],
        "features": [
            {"name": "tenure_months", "kind": "numeric", "dtype": "int", "min": 0, "max": 72},
            {
                "name": "contract",
                "kind": "categorical",
                "dtype": "str",
                "categories": ["month_to_month", "one_year"],
                "nullable": True,
            },
        ],
        "artifact": {"file": "model.joblib", "sha256": SHA, "size_bytes": 1234},
        "runtime": {"python": "3.12.8", "sklearn": "1.9.1", "numpy": "2.4.6", "joblib": "1.6"},
        "estimator": {"algorithm": "logistic_regression", "params": {"C": 1.0}},
        "metrics": {"roc_auc": 0.91, "accuracy": 0.84, "holdout_rows": 1200.0},
        "training_data": {
            "uri": "s3://bucket/datasets/churn/2026-11.csv",
            "etag": '"etag-1"',
            "rows": 6000,
            "target": "churned",
            "holdout_fraction": 0.2,
            "seed": 42,
            "label_fractions": {"0": 0.73, "1": 0.27},
        },
        "parent_version": "v1",
        "profile": {
            "tenure_months": {
                "count": 4800,
                "mean": 20.5,
                "std": 19.0,
                "min": 0,
                "max": 72,
                "bin_edges": [0, 36, 72],
                "bin_fractions": [0.8, 0.2],
            },
            "contract": {"kind": "categorical", "count": 4700, "fractions": {"one_year": 0.4}},
        },
    }
    document.update(overrides)
    return Manifest.model_validate(document)


CONTEXT = CardContext(
    run_id="run-42",
    data_uri="s3://bucket/datasets/churn/2026-11.csv",
    challenger_metrics={"roc_auc": 0.9123, "holdout_rows": 1190.0},
    champion=ChampionRecord(version="v1", metrics={"roc_auc": 0.8511, "holdout_rows": 1190.0}),
    gates=(
        GateRecord(
            name="min_roc_auc",
            passed=True,
            value=0.9123,
            threshold=0.85,
            detail="ROC-AUC 0.9123 >= 0.85",
        ),
    ),
    decision="all 1 gates passed",
)


def section(markdown: str, title: str) -> str:
    """The text of one `## title` section of a Markdown card."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.M | re.S)
    assert match, f"no section {title!r}"
    return match.group(1)


def test_a_card_without_a_description_says_not_stated_rather_than_inventing_a_use() -> None:
    card = ModelCard(manifest()).markdown()

    assert f"Intended use: {NOT_STATED}" in section(card, "Intended use")
    assert f"| Owner | {NOT_STATED} |" in card
    assert f"Summary: {NOT_STATED}" in section(card, "Summary")


def test_the_owners_description_is_on_the_card() -> None:
    described = manifest(
        description={
            "summary": "Churn risk per customer.",
            "intended_use": "Rank customers for retention calls; not for pricing.",
            "owner": "Retention team",
            "limitations": ["Trained on EU customers only."],
        }
    )

    card = ModelCard(described).markdown()

    assert "Churn risk per customer." in section(card, "Summary")
    assert "not for pricing" in section(card, "Intended use")
    assert "| Owner | Retention team |" in card
    assert "- Stated by the owner: Trained on EU customers only." in section(card, "Limitations")


def test_identity_lineage_and_features_come_from_the_manifest() -> None:
    card = ModelCard(manifest()).markdown()

    identity = section(card, "What the model is")
    assert f"| Artifact sha256 | {SHA} |" in identity
    assert "| Classes | 0, 1 |" in identity
    assert "| Key parameters | C=1.0 |" in identity
    lineage = section(card, "Training data and lineage")
    assert '| ETag | "etag-1" |' in lineage
    assert "| Holdout | 20% of the rows, seed 42 |" in lineage
    assert "| Parent version | v1 |" in lineage
    features = section(card, "Features")
    assert "| 1 | tenure_months | numeric | int | - | 0 to 72 | no |" in features
    assert "| 2 | contract | categorical | str | month_to_month, one_year | - | yes |" in features


def test_a_retrained_card_puts_the_champion_beside_it_on_the_same_holdout_and_the_gates() -> None:
    card = ModelCard(manifest(), CONTEXT).markdown()

    metrics = section(card, "Metrics")
    assert "the champion v1 on the same holdout rows" in metrics
    assert "| Metric | This version | Champion v1 |" in metrics
    # The run's own scores on the shared rows, not the manifest's training-time ones.
    assert "| roc_auc | 0.9123 | 0.8511 |" in metrics
    gates = section(card, "Gate decisions")
    assert "Decision: all 1 gates passed." in gates
    assert "| min_roc_auc | passed | 0.9123 | 0.85 | ROC-AUC 0.9123 >= 0.85 |" in gates
    assert "| Retraining run | run-42 |" in section(card, "Training data and lineage")


def test_a_direct_publish_shows_the_previous_version_labelled_as_not_compared() -> None:
    previous = manifest(version="v1", metrics={"roc_auc": 0.85})

    card = ModelCard(manifest(), previous=previous).markdown()

    metrics = section(card, "Metrics")
    assert f"| Metric | This version | v1 ({PREVIOUS_LABEL}) |" in metrics
    assert "| roc_auc | 0.9100 | 0.8500 |" in metrics
    assert "| holdout_rows | 1200 | - |" in metrics
    assert "Not gated" in section(card, "Gate decisions")


def test_limitations_are_derived_from_the_facts() -> None:
    imbalanced = manifest(
        training_data={
            "uri": "s3://b/d.csv",
            "rows": 500,
            "target": "churned",
            "holdout_fraction": 0.2,
            "label_fractions": {"0": 0.96, "1": 0.04},
        }
    )

    limits = section(ModelCard(imbalanced).markdown(), "Limitations")

    assert "training ranges (tenure\\_months 0 to 72)" not in limits  # underscore inside a word
    assert "training ranges (tenure_months 0 to 72)" in limits
    assert "refused (422) for: contract" in limits
    assert "A null is accepted for contract" in limits
    assert "scikit-learn 1.9.1 exactly" in limits
    assert "rest on 1200 rows (the accuracy's standard error at that size: 0.0106)" in limits
    assert "Class balance of the training labels: 0 96.0%, 1 4.0%." in limits
    assert "The rarest class (1, 4.0%)" in limits


def test_a_packaged_model_without_a_target_is_said_not_to_be_evaluated() -> None:
    packaged = manifest(
        origin="packaged",
        metrics={},
        training_data={"uri": "file:///sample.csv", "rows": 40, "target": None},
    )

    card = ModelCard(packaged).markdown()

    assert "No holdout metrics: the sample given at packaging had no target." in card
    assert "modelship did not see its training data" in section(card, "Limitations")
    assert "| Holdout | none: the metrics are on the sample given at packaging |" in card


def test_the_drift_profile_summarises_each_feature() -> None:
    profile = section(ModelCard(manifest()).markdown(), "Drift profile")

    # An older manifest: no percentiles, no prediction profile.
    assert "| tenure_months | 4800 | 20.5 | 19 | 0 | - | - | - | 72 | - |" in profile
    assert "| contract | 4700 | one_year 40.0% |" in profile
    assert "No prediction profile is recorded for this version." in profile


def test_percentiles_discrete_values_and_the_prediction_profile_are_shown() -> None:
    support_calls = {
        "count": 100,
        "mean": 1.2,
        "std": 0.9,
        "min": 0,
        "max": 3,
        "bin_edges": [0, 3],
        "bin_fractions": [1.0],
        "quantiles": [min(3, i // 25) for i in range(101)],
        "values": [0, 1, 2, 3],
        "value_fractions": [0.3, 0.4, 0.2, 0.1],
    }
    with_predictions = manifest(
        profile={"tenure_months": support_calls},
        prediction_profile={
            "kind": "categorical",
            "count": 1200,
            "fractions": {"0": 0.7, "1": 0.3},
        },
    )

    profile = section(ModelCard(with_predictions).markdown(), "Drift profile")

    assert (
        "| tenure_months | 100 | 1.2 | 0.9 | 0 | 0 | 2 | 3 | 3 | "
        "1 40.0%, 0 30.0%, 2 20.0%, 3 10.0% |" in profile
    )
    assert "| (prediction) | 1200 | 0 70.0%, 1 30.0% |" in profile
    assert "the model's own answers on its holdout" in profile


def test_the_same_inputs_render_the_same_bytes() -> None:
    # A retried publish compares the stored card's sha256 with a fresh render.
    assert ModelCard(manifest(), CONTEXT).html() == ModelCard(manifest(), CONTEXT).html()
    assert ModelCard(manifest()).markdown() == ModelCard(manifest()).markdown()


def hostile_manifest() -> Manifest:
    return manifest(
        features=[
            {"name": HOSTILE, "kind": "numeric", "dtype": "float", "min": 0, "max": 1},
            {
                "name": "plan|x",
                "kind": "categorical",
                "dtype": "str",
                "categories": ['"><img src=x onerror=alert(1)>', "[link](http://evil)"],
            },
        ],
        profile={},
        estimator={"algorithm": "x", "params": {"note": "<b>bold</b>"}},
        description={
            "owner": "<a href='http://evil'>me</a>",
            "intended_use": "- a list? <iframe>",
            "limitations": ["</td></tr></table><script>x</script>"],
        },
    )


def test_every_value_is_escaped_in_the_html() -> None:
    context = CONTEXT.model_copy(
        update={
            "decision": "<img src=x onerror=alert(2)>",
            "gates": (
                GateRecord(name="<g>", passed=False, value=None, threshold=1, detail=HOSTILE),
            ),
        }
    )

    page = ModelCard(hostile_manifest(), context).html()

    for raw in ("<script", "<img", "<iframe", "<a ", "<b>", "</td></tr></table><script>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "http" not in page.replace("http://evil", "")  # self-contained: nothing fetched


def test_no_value_opens_markdown_it_does_not_hold() -> None:
    card = ModelCard(hostile_manifest()).markdown()

    assert "<" not in card.replace("\\<", "")
    assert "[link](" not in card
    assert "\\[link\\](http://evil)" in card
    assert "| plan\\|x | categorical |" in card
    assert "\\- a list? \\<iframe>" in section(card, "Intended use")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("tenure_months", "tenure_months"),
        ("_private_", "\\_private\\_"),
        ("a|b", "a\\|b"),
        ("*x* `y`", "\\*x\\* \\`y\\`"),
        ("line\nbreak", "line break"),
        ("R&D &amp;", "R&D \\&amp;"),
        ("ROC-AUC 0.91 >= 0.85", "ROC-AUC 0.91 >= 0.85"),
        ("0.8500", "0.8500"),
    ],
)
def test_markdown_text_renders_as_itself(value: str, expected: str) -> None:
    assert md_text(value) == expected


def test_a_description_of_nothing_is_none_and_a_bad_one_names_its_field() -> None:
    assert ModelDescription.of(summary=None, owner="", limitations=()) is None
    assert ModelDescription.of({"owner": " team "}) == ModelDescription(owner="team")
    with pytest.raises(InvalidManifest, match="owner") as too_long:
        ModelDescription.of(owner="x" * 201)
    assert too_long.value.reason == "invalid_description"
    with pytest.raises(InvalidManifest, match="limitations"):
        ModelDescription.of(limitations=("ok",) * 21)
    with pytest.raises(InvalidManifest, match="purpose"):
        ModelDescription.of({"purpose": "typo of intended_use"})


def test_a_manifest_written_before_descriptions_still_loads() -> None:
    assert manifest().description is None
    assert manifest().training_data.label_fractions == {"0": 0.73, "1": 0.27}


def test_serving_reads_versions_without_loading_the_card_modules() -> None:
    import subprocess
    import sys

    code = (
        "import sys, modelship.serving.model_store, modelship.registry; "
        "print(sorted(m for m in sys.modules if m.startswith('modelship.registry.card')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip() == "[]"
