"""Scoring on the holdout: missing values go to the model as a client sends them (null), and a
row the model's schema would refuse is left out of that model's score, counted."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from modelship.errors import TrainingError
from modelship.registry.manifest import FeatureSpec, Manifest
from modelship.retraining.scoring import common_holdout, score
from modelship.training.tables import Table
from tests.hand_built_models import write_model_dir

N = 40


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {"seats": rng.integers(1, 50, N).astype(np.int64), "usage": rng.normal(10.0, 3.0, N)}
    )
    labels = np.where(frame["usage"].to_numpy() > 10.0, "yes", "no").astype(object)
    return frame, labels


def _model(tmp_path: Path, *, seats_nullable: bool) -> tuple[Manifest, object]:
    """A DataFrame model fitted with `seats` as int64, imputing what is missing."""
    frame, labels = _data()
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(frame, labels)
    features = (
        FeatureSpec(
            name="seats", kind="numeric", dtype="int", frame_dtype="int64", nullable=seats_nullable
        ),
        FeatureSpec(name="usage", kind="numeric", dtype="float", frame_dtype="float64"),
    )
    manifest = write_model_dir(
        model, tmp_path, features=features, task="classification", input_format="dataframe"
    )
    return manifest, model


def _table(seats: np.ndarray) -> Table:
    frame, labels = _data()
    return Table(
        columns={"seats": seats, "usage": frame["usage"].to_numpy(), "churned": labels},
        kinds={"seats": "numeric", "usage": "numeric"},
        target="churned",
    )


def _seats_with_gaps(rows: list[int]) -> np.ndarray:
    frame, _ = _data()
    seats = frame["seats"].to_numpy(dtype=np.float64)
    seats[rows] = np.nan
    return seats


def test_a_missing_value_of_a_nullable_int_feature_is_sent_as_null(tmp_path: Path) -> None:
    manifest, model = _model(tmp_path, seats_nullable=True)
    table = _table(_seats_with_gaps([0, 5]))
    y = table.target_values()

    rows = common_holdout(table, [manifest], np.arange(N))
    metrics = score(model, manifest, table, rows)

    frame, _ = _data()
    served = frame.astype({"seats": np.float64})
    served.loc[[0, 5], "seats"] = np.nan
    expected = float(np.mean(model.predict(served) == y))  # type: ignore[attr-defined]
    assert rows.tolist() == list(range(N))
    assert metrics["accuracy"] == expected
    assert metrics["holdout_rows"] == N
    assert metrics["unscorable_rows"] == 0


def test_rows_one_model_cannot_score_are_left_out_for_every_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a champion that imputes seats and a challenger whose schema requires them
    champion, champion_model = _model(tmp_path / "champion", seats_nullable=True)
    challenger, challenger_model = _model(tmp_path / "challenger", seats_nullable=False)
    table = _table(_seats_with_gaps([3, 8, 9]))
    holdout = np.arange(N)
    y = table.target_values()

    # When the rows both can be scored on are chosen
    with caplog.at_level(logging.WARNING, logger="modelship.retraining.scoring"):
        rows = common_holdout(table, [challenger, champion], holdout)
    dropped = N - len(rows)
    scores = [
        score(challenger_model, challenger, table, rows, dropped),
        score(champion_model, champion, table, rows, dropped),
    ]

    # Then both are judged on the same 37 rows, the gaps counted and logged
    kept = np.setdiff1d(holdout, [3, 8, 9])
    assert rows.tolist() == kept.tolist()
    frame, _ = _data()
    for metrics, model in zip(scores, (challenger_model, champion_model), strict=True):
        expected = float(np.mean(model.predict(frame.iloc[kept]) == y[kept]))  # type: ignore[attr-defined]
        assert metrics["accuracy"] == expected
        assert metrics["holdout_rows"] == N - 3
        assert metrics["unscorable_rows"] == 3
    assert "scoring on 37 of 40 holdout rows" in caplog.text
    assert "requires values of 'seats' (3 rows)" in caplog.text


def test_no_holdout_row_left_to_score_fails_naming_the_column(tmp_path: Path) -> None:
    manifest, _ = _model(tmp_path, seats_nullable=False)
    table = _table(_seats_with_gaps(list(range(N))))

    with pytest.raises(TrainingError, match=r"any of the 4 holdout rows.*'seats' \(4 rows\)"):
        common_holdout(table, [manifest], np.arange(4))
