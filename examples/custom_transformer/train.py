"""Fits a churn pipeline that uses our own transformer and dumps it with joblib.

    python examples/custom_transformer/train.py CSV OUT_DIR

Writes OUT_DIR/model.joblib and OUT_DIR/holdout.csv (the labelled rows the model never saw,
the sample `modelship models package` infers the schema from and scores). Run as a script,
this file's folder is on the import path, so the pickle refers to the transformer as
`churn_features.ChurnRatios`: ship that module with `--code` (see ../README.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import pandas as pd
from churn_features import RATIOS, ChurnRatios
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

TARGET = "churned"
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "num_products", *RATIOS]
CATEGORICAL = ["contract", "payment_method", "internet_service", "paperless_billing"]


def build_pipeline() -> Pipeline:
    encode = ColumnTransformer(
        [
            ("numeric", "passthrough", NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
    return Pipeline(
        [
            ("ratios", ChurnRatios()),
            ("encode", encode),
            ("classifier", HistGradientBoostingClassifier(max_iter=100, random_state=0)),
        ]
    )


def main(csv: Path, out: Path) -> None:
    frame = pd.read_csv(csv)
    train, holdout = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame[TARGET])
    pipeline = build_pipeline().fit(train.drop(columns=[TARGET]), train[TARGET])
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, out / "model.joblib")
    holdout.to_csv(out / "holdout.csv", index=False)
    print(f"wrote {out / 'model.joblib'} and {out / 'holdout.csv'} ({len(holdout)} rows)")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
