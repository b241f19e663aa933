"""The model card's limitations and runtime, derived from the manifest's facts (trained ranges,
nulls, the scikit-learn that pickled it, sample size, class balance, how it was made), followed
by the ones its owner stated. Nothing is inferred beyond what the manifest records."""

from __future__ import annotations

import math

from modelship.registry.card_document import Table
from modelship.registry.manifest import Manifest

# A class under this share of the training labels makes accuracy a poor summary of it.
RARE_CLASS_SHARE = 0.10


def limitations(manifest: Manifest) -> list[str]:
    m = manifest
    facts: list[str] = []
    ranged = [f for f in m.features if f.kind == "numeric" and f.min is not None]
    if ranged:
        ranges = "; ".join(f"{f.name} {number(f.min)} to {number(f.max)}" for f in ranged)
        facts.append(
            f"Numeric inputs outside the training ranges ({ranges}) are accepted and counted "
            "as out of range, but the model was never fitted there: its answers are "
            "extrapolation."
        )
    categorical = [f.name for f in m.features if f.kind == "categorical"]
    if categorical:
        facts.append(
            "A category not seen in training is refused (422) for: " + ", ".join(categorical) + "."
        )
    nullable = [f.name for f in m.features if f.nullable]
    if nullable:
        facts.append(
            f"A null is accepted for {', '.join(nullable)} and reaches the model as missing: "
            "the model's own imputation decides its effect."
        )
    if not nullable:
        facts.append("No feature accepts null: a row missing a value is refused (422).")
    elif len(nullable) < len(m.features):
        facts.append("A row missing any other feature's value is refused (422).")
    facts.append(
        f"Loading needs scikit-learn {m.runtime.sklearn} exactly (the version that pickled "
        "it): a release on a layer with another version is refused."
    )
    facts.extend(_sample_size(m))
    facts.extend(_class_balance(m))
    if m.origin == "packaged":
        facts.append(
            "Packaged from a model fitted elsewhere: modelship did not see its training data "
            "or split a holdout; its metrics, if any, are on the sample given at packaging, "
            "which may overlap the rows it was fitted on."
        )
    if m.task == "predict_only":
        facts.append("Serves predict only: no class probabilities, no ROC-AUC.")
    stated = m.description.limitations if m.description else ()
    facts.extend(f"Stated by the owner: {line}" for line in stated)
    return facts


def _sample_size(m: Manifest) -> list[str]:
    rows = m.training_data.rows
    holdout = m.metrics.get("holdout_rows")
    if holdout is None:
        return [f"Built from {rows} rows; no holdout was scored."]
    line = f"Built from {rows} rows; the holdout metrics rest on {int(holdout)} rows"
    accuracy = m.metrics.get("accuracy")
    if accuracy is not None and holdout >= 1:
        error = math.sqrt(accuracy * (1 - accuracy) / holdout)
        line += f" (the accuracy's standard error at that size: {error:.4f})"
    return [line + "."]


def _class_balance(m: Manifest) -> list[str]:
    if m.task != "classification":
        return []
    fractions = m.training_data.label_fractions
    if not fractions:
        return ["The class balance of the training labels is not recorded for this version."]
    shares = ", ".join(f"{label} {share:.1%}" for label, share in fractions.items())
    line = f"Class balance of the training labels: {shares}."
    rarest, share = min(fractions.items(), key=lambda kv: (kv[1], kv[0]))
    if share < RARE_CLASS_SHARE:
        line += (
            f" The rarest class ({rarest}, {share:.1%}) is under {RARE_CLASS_SHARE:.0%} of "
            "the rows: accuracy says little about it; read its recall and precision."
        )
    return [line]


def runtime_table(manifest: Manifest) -> Table:
    runtime = manifest.runtime
    rows = (
        ("Python", runtime.python),
        ("scikit-learn", f"{runtime.sklearn} (required exactly to load)"),
        ("numpy", runtime.numpy),
        ("scipy", runtime.scipy or "not recorded"),
        ("pandas", runtime.pandas or "not recorded"),
        ("joblib", runtime.joblib),
    )
    return Table(("Library", "Version the artifact was written with"), rows)


def number(value: float | None) -> str:
    """A number as short as it reads: 72 for 72.0, six significant digits otherwise."""
    if value is None:
        return "-"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"
