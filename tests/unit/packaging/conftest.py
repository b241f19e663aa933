"""Fixtures of packaging's unit tests: the notebook models, fitted once per module."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from tests.notebook_models import CUSTOM_MODULE, CUSTOM_SOURCE, churn_frame, dataframe_pipeline


@pytest.fixture(scope="module")
def churn() -> pd.DataFrame:
    return churn_frame()


@pytest.fixture(scope="module")
def fitted_pipeline(churn: pd.DataFrame) -> Pipeline:
    return dataframe_pipeline().fit(churn.drop(columns=["churned"]), churn["churned"])


@pytest.fixture
def custom_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The user's own module, importable as in their notebook; forgotten afterwards."""
    code = tmp_path / "user_code"
    code.mkdir()
    (code / f"{CUSTOM_MODULE}.py").write_text(CUSTOM_SOURCE)
    monkeypatch.syspath_prepend(str(code))
    module = importlib.import_module(CUSTOM_MODULE)
    yield module
    sys.modules.pop(CUSTOM_MODULE, None)
