"""How the smoke check compares answers: bit for bit, NaN equal to NaN, and says how they differ."""

from __future__ import annotations

import numpy as np

from modelship.packaging.smoke_check import difference


def test_equal_answers_and_nans_in_the_same_places_are_equal() -> None:
    answers = np.array([0.25, np.nan, 1.0])

    assert difference("values", answers, answers.copy()) is None


def test_one_ulp_is_a_difference_unless_a_tolerance_allows_it() -> None:
    expected = np.array([[0.1, 0.9], [0.3, 0.7]])
    actual = expected.copy()
    actual[1, 0] = np.nextafter(actual[1, 0], 1.0)

    said = difference("probabilities", expected, actual)

    assert said is not None
    assert said.startswith("1 of 2 rows' probabilities differ (row 1: original [0.3, 0.7]")
    assert difference("probabilities", expected, actual, tolerance=1e-12) is None


def test_labels_are_compared_exactly_with_their_dtype_and_shape() -> None:
    labels = np.array(["no", "yes"], dtype=object)

    assert difference("predictions", labels, np.array(["no", "no"], dtype=object)) == (
        "1 of 2 rows' predictions differ (row 1: original 'yes', packaged 'no')"
    )
    assert "dtype" in (difference("predictions", np.array([1, 0]), np.array([1.0, 0.0])) or "")
    assert "shape" in (difference("predictions", np.array([1, 0]), np.array([1])) or "")
    assert difference("probabilities", None, None) is None
