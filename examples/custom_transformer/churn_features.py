"""Features of our own: a transformer class that lives in your code, not in scikit-learn.

A pickled pipeline refers to this class as `churn_features.ChurnRatios`, so whatever loads
the artifact must be able to import `churn_features`. `modelship models package --code
churn_features.py` zips this file beside the artifact (its sha256 in the manifest) and puts
it on the import path before unpickling, in the smoke check and in the predict function.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

RATIOS = ("charges_per_month", "calls_per_product")


class ChurnRatios(TransformerMixin, BaseEstimator):
    """Adds two ratio columns to a churn DataFrame and keeps every original column.

    charges_per_month: total charges over months of tenure (monthly charges for a new
    customer, whose total is still empty); calls_per_product: support calls per product.
    """

    def fit(self, X: pd.DataFrame, y: Any = None) -> ChurnRatios:
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        months = X["tenure_months"].where(X["tenure_months"] > 0)
        out["charges_per_month"] = (X["total_charges"] / months).fillna(X["monthly_charges"])
        out["calls_per_product"] = X["support_calls"] / X["num_products"].clip(lower=1)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*self.feature_names_in_, *RATIOS], dtype=object)
