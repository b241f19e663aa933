"""Training: tables of column arrays (`tables`), read from CSV a block at a time
(`csv_reader`), the synthetic reference churn dataset (`churn`), and fitting a scikit-learn
Pipeline on a table, scoring it on a holdout and writing `model.joblib` plus its manifest
(`training`). Datasets in S3 are
`modelship.retraining.datasets`. The names below are imported on first use: reading a CSV
(as the retraining trigger function does) must not import scikit-learn.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.training.churn import CHURN_FEATURES, CHURN_TARGET, generate_churn
    from modelship.training.csv_reader import csv_header, read_csv
    from modelship.training.tables import Table, table_to_csv_bytes, write_csv
    from modelship.training.training import (
        ALGORITHMS,
        TrainedModel,
        TrainingSpec,
        evaluate,
        holdout_split,
        train,
        write_model,
    )

_MODULE_OF = {
    "CHURN_FEATURES": "churn",
    "CHURN_TARGET": "churn",
    "generate_churn": "churn",
    "csv_header": "csv_reader",
    "read_csv": "csv_reader",
    "Table": "tables",
    "table_to_csv_bytes": "tables",
    "write_csv": "tables",
    "ALGORITHMS": "training",
    "TrainedModel": "training",
    "TrainingSpec": "training",
    "evaluate": "training",
    "holdout_split": "training",
    "train": "training",
    "write_model": "training",
}

__all__ = [
    "ALGORITHMS",
    "CHURN_FEATURES",
    "CHURN_TARGET",
    "Table",
    "TrainedModel",
    "TrainingSpec",
    "csv_header",
    "evaluate",
    "generate_churn",
    "holdout_split",
    "read_csv",
    "table_to_csv_bytes",
    "train",
    "write_csv",
    "write_model",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
