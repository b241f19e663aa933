"""A classifier's labels as the service answers them, by the manifest's `labels` rule: one
function for serving, packaging's smoke check, holdout metrics and retraining's scoring, so
what is measured is what is served."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

# "argmax": the class of highest probability (near-ties decided by predict); "predict": the
# estimator's own predict, beside predict_proba.
LabelRule = Literal["argmax", "predict"]
# Probabilities this close count as a tie.
TIE_TOLERANCE = 1e-9


def served_labels(model: Any, x: Any, proba: np.ndarray, rule: LabelRule) -> np.ndarray:
    """The labels for input `x` whose probabilities are `proba`. By argmax, rows whose two
    highest probabilities are within TIE_TOLERANCE are decided by the model's own predict:
    argmax and predict may break a tie, or what rounding made one, differently (a binary
    GradientBoostingClassifier predicts the positive class at a raw score of exactly 0, where
    both probabilities are 0.5)."""
    if rule == "predict":
        return np.asarray(model.predict(x))
    labels: np.ndarray = np.asarray(model.classes_)[np.argmax(proba, axis=1)]
    if proba.ndim != 2 or proba.shape[1] < 2:
        return labels
    top_two = np.partition(proba, -2, axis=1)[:, -2:]
    ties = np.flatnonzero(top_two[:, 1] - top_two[:, 0] <= TIE_TOLERANCE)
    if len(ties):
        rows = x.iloc[ties] if hasattr(x, "iloc") else x[ties]
        labels = labels.copy()
        labels[ties] = np.asarray(model.predict(rows))
    return labels
