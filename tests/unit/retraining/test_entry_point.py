"""The training entry point: finding the user's function, and the frames it is called with."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from modelship.errors import ConfigurationError, TrainingError
from modelship.retraining.entry_point import (
    code_paths,
    feature_frame,
    holdout_rows,
    load_entry_point,
    target_series,
)
from modelship.training.tables import Table


@pytest.fixture
def code_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user code directory (sys.path restored after the test; module names are unique)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    directory = tmp_path / "user_code"
    directory.mkdir()
    return directory


def _module(code_dir: Path, source: str) -> str:
    name = f"user_{uuid.uuid4().hex[:8]}"
    (code_dir / f"{name}.py").write_text(source)
    return name


def test_the_function_is_found_in_the_code_directory(code_dir: Path) -> None:
    name = _module(code_dir, "def fit(x, y):\n    return ('fitted', len(x))\n")

    function = load_entry_point(f"{name}:fit", code_dir)

    assert function([1, 2], None) == ("fitted", 2)


@pytest.mark.parametrize("spec", ["module", "module:", ":fit", "a-b:fit", "a.b:fit()", "a..b:f"])
def test_a_malformed_entry_point_is_a_configuration_error(spec: str) -> None:
    with pytest.raises(ConfigurationError, match=r"must be package\.module:function"):
        load_entry_point(spec)


def test_a_missing_module_is_named(code_dir: Path) -> None:
    with pytest.raises(
        TrainingError, match=r"module 'nowhere_to_be_found' not found in .*user_code"
    ):
        load_entry_point("nowhere_to_be_found.sub:fit", code_dir)


def test_a_missing_function_is_named(code_dir: Path) -> None:
    name = _module(code_dir, "def fit(x, y):\n    return None\n")

    with pytest.raises(TrainingError, match=rf"{name}:train: {name} has no 'train'"):
        load_entry_point(f"{name}:train", code_dir)


def test_an_attribute_that_is_not_a_function_is_refused(code_dir: Path) -> None:
    name = _module(code_dir, "fit = 42\n")

    with pytest.raises(TrainingError, match="'fit' is a int, not a function"):
        load_entry_point(f"{name}:fit", code_dir)


def test_a_module_that_fails_to_import_says_why(code_dir: Path) -> None:
    broken = _module(code_dir, "import not_installed_anywhere\n")
    raising = _module(code_dir, "raise RuntimeError('bad config')\n")

    with pytest.raises(TrainingError, match=rf"importing {broken} failed: .*not_installed"):
        load_entry_point(f"{broken}:fit", code_dir)
    with pytest.raises(TrainingError, match="RuntimeError: bad config"):
        load_entry_point(f"{raising}:fit", code_dir)


def test_a_missing_code_directory_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_entry_point("mod:fit", tmp_path / "absent")


@pytest.mark.parametrize(
    ("entry", "shadowed"),
    [
        ("numpy.py", "the module 'numpy' of numpy"),
        ("sklearn", "the module 'sklearn' of scikit-learn"),
        ("functions.py", "modelship's own package 'functions'"),
        ("json.py", "the standard library's module 'json'"),
    ],
)
def test_code_that_would_shadow_the_runtime_is_refused_before_import(
    code_dir: Path, entry: str, shadowed: str
) -> None:
    name = _module(code_dir, "def fit(x, y):\n    return 'fitted'\n")
    if entry.endswith(".py"):
        (code_dir / entry).write_text("raise RuntimeError('imported')\n")
    else:
        (code_dir / entry).mkdir()
        (code_dir / entry / "__init__.py").write_text("raise RuntimeError('imported')\n")

    with pytest.raises(ConfigurationError, match=f"{entry} would shadow {shadowed}"):
        load_entry_point(f"{name}:fit", code_dir)

    assert str(code_dir) not in sys.path


def _table() -> Table:
    categories = np.empty(6, dtype=object)
    categories[:] = ["a", "b", "a", "c", "b", "a"]
    labels = np.empty(6, dtype=object)
    labels[:] = ["yes", "no", "yes", "no", "yes", "no"]
    return Table(
        columns={
            "count": np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
            "ratio": np.array([0.5, 1.0, 1.5, 2.0, 2.5, 3.0]),
            "plan": categories,
            "label": labels,
        },
        kinds={"count": "numeric", "ratio": "numeric", "plan": "categorical"},
        target="label",
    )


def test_the_frame_has_read_csv_dtypes_decided_on_the_whole_table() -> None:
    table = _table()
    rows = np.array([1, 3])

    frame = feature_frame(table, rows)
    y = target_series(table, rows)

    assert list(frame.columns) == ["count", "ratio", "plan"]
    assert {c: str(t) for c, t in frame.dtypes.items()} == {
        "count": "int64",
        "ratio": "float64",
        "plan": "str",
    }
    assert frame["count"].tolist() == [2, 4]
    assert frame["plan"].tolist() == ["b", "c"]
    assert list(frame.index) == [0, 1]
    assert y.name == "label"
    assert y.tolist() == ["no", "no"]


def test_the_holdout_is_stratified_for_labels_and_plain_for_numbers() -> None:
    n = 100
    labels = np.array([0] * 90 + [1] * 10, dtype=np.int64)
    numbers = np.linspace(0.0, 1.0, n)
    table = Table(columns={"x": numbers, "y": labels}, kinds={"x": "numeric"}, target="y")
    _, holdout = holdout_rows(table, 0.2, 42)
    assert labels[holdout].sum() == 2  # the 10% minority, stratified

    regression = Table(columns={"x": numbers, "y": numbers * 3}, kinds={"x": "numeric"}, target="y")
    train, holdout = holdout_rows(regression, 0.2, 42)
    assert (len(train), len(holdout)) == (80, 20)

    rare = Table(
        columns={"x": numbers, "y": np.array([0] * 99 + [1], dtype=np.int64)},
        kinds={"x": "numeric"},
        target="y",
    )
    first = holdout_rows(rare, 0.2, 42)
    assert np.array_equal(first[1], holdout_rows(rare, 0.2, 42)[1])
    assert len(first[1]) == 20


def test_code_paths_are_the_top_level_modules_and_packages(tmp_path: Path) -> None:
    (tmp_path / "features.py").write_text("")
    (tmp_path / "_helpers.py").write_text("")  # private by name, still the model's code
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.py").write_text("")
    (tmp_path / ".hidden.py").write_text("")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "data").mkdir()

    assert [p.name for p in code_paths(tmp_path)] == ["_helpers.py", "features.py", "pkg"]
    assert code_paths(None) == []
