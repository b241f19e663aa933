"""Labels by `argmax`: the class of highest probability, except near a tie, where the
model's own predict decides (argmax and predict may break ties differently)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelship.class_labels import TIE_TOLERANCE, served_labels


class _TieBreaksHigh:
    """A classifier whose predict picks the last class on a tie; argmax picks the first."""

    classes_ = np.array(["stay", "churn"])

    def __init__(self) -> None:
        self.predicted_rows: list[int] = []

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        self.predicted_rows.extend(int(i) for i in x.index)
        return np.array(["churn"] * len(x))


def test_a_tie_is_decided_by_the_models_predict_and_only_ties_are() -> None:
    model = _TieBreaksHigh()
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    proba = np.array([[0.9, 0.1], [0.5, 0.5], [0.5 + TIE_TOLERANCE / 4, 0.5 - TIE_TOLERANCE / 4]])

    labels = served_labels(model, frame, proba, "argmax")

    assert labels.tolist() == ["stay", "churn", "churn"]
    assert model.predicted_rows == [1, 2]  # the clear row never reaches predict


def test_by_predict_every_row_is_the_models_predict() -> None:
    model = _TieBreaksHigh()
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])

    assert served_labels(model, frame, proba, "predict").tolist() == ["churn", "churn"]
    assert model.predicted_rows == [0, 1]


def test_rows_of_an_array_input_are_selected_by_position() -> None:
    class Model:
        classes_ = np.array([0, 1, 2])

        def predict(self, x: np.ndarray) -> np.ndarray:
            assert x.tolist() == [[20.0]]
            return np.array([2])

    matrix = np.array([[10.0], [20.0]], dtype=object)
    proba = np.array([[0.1, 0.2, 0.7], [0.4, 0.2, 0.4]])

    assert served_labels(Model(), matrix, proba, "argmax").tolist() == [2, 2]
