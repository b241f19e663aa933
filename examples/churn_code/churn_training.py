"""A training entry point for the retraining pipeline: your code fits, modelship ships.

In cdk.json (docs/retraining.md, "Training with your own code"):

    "trainingEntryPoint": "churn_training:fit",
    "trainingCode": "examples/churn_code"

Each run calls `fit(X, y)` with the dataset's training rows (a DataFrame typed as
`pandas.read_csv` types them) and its target (a Series); what it returns is packaged, scored
against the champion, gated, registered and released like any model. `modelship retrain
--entry-point churn_training:fit_deeper` trains one run with the other function.

Columns are chosen by dtype, not by name, so the same function trains on any CSV whose
target is a class label.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder


def build(n_estimators: int, max_depth: int) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                SimpleImputer(strategy="median"),
                make_column_selector(dtype_include="number"),
            ),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                make_column_selector(dtype_exclude="number"),
            ),
        ]
    )
    classifier = GradientBoostingClassifier(
        n_estimators=n_estimators, max_depth=max_depth, random_state=0
    )
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def fit(X: pd.DataFrame, y: pd.Series) -> Any:
    return build(n_estimators=150, max_depth=3).fit(X, y)


def fit_deeper(X: pd.DataFrame, y: pd.Series) -> Any:
    return build(n_estimators=300, max_depth=4).fit(X, y)
