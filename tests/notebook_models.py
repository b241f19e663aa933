"""Models as a user fits them in a notebook, and their samples: packaging's tests (unit and
integration) start from these."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

CUSTOM_MODULE = "shop_features"
CUSTOM_SOURCE = '''
"""A transformer of the user's own: log of amounts."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class LogAmount(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        self.fitted_ = True
        return self

    def transform(self, X):
        return np.log1p(np.asarray(X, dtype=float))
'''


def churn_frame(rows: int = 240, seed: int = 0) -> pd.DataFrame:
    """Customers with an int, a float with gaps, a text category with gaps, and a label."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "tenure": rng.integers(1, 72, rows),
            "monthly": rng.normal(60.0, 20.0, rows).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], rows),
        }
    )
    frame.loc[rng.choice(rows, 12, replace=False), "monthly"] = np.nan
    frame.loc[rng.choice(rows, 9, replace=False), "plan"] = None
    score = -0.05 * frame["tenure"] + 0.03 * frame["monthly"].fillna(60) + rng.normal(0, 0.5, rows)
    frame["churned"] = (score > score.median()).astype(int)
    return frame


def dataframe_pipeline() -> Pipeline:
    """Imputer, one-hot by column name, gradient boosting: the issue's notebook pipeline."""
    features = ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), ["tenure", "monthly"]),
            (
                "plan",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                ["plan"],
            ),
        ]
    )
    return Pipeline(
        [("features", features), ("model", HistGradientBoostingClassifier(max_iter=15))]
    )
