"""Training entry point inside a SageMaker training job (trainingBackend=sagemaker).

SageMaker mounts the dataset under /opt/ml/input/data/train, passes hyperparameters as a
JSON file, and uploads /opt/ml/model as model.tar.gz when the process exits 0. The image
(layers/sagemaker/Dockerfile) has the layer's exact library versions, so the model it writes
loads in the predict function.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from modelship.errors import DatasetError
from modelship.training.churn import CHURN_TARGET
from modelship.training.csv_reader import read_csv
from modelship.training.training import TrainingSpec, train, write_model

SAGEMAKER_ROOT = Path("/opt/ml")


def run(root: Path = SAGEMAKER_ROOT) -> int:
    hyperparameters: dict[str, Any] = json.loads(
        (root / "input" / "config" / "hyperparameters.json").read_text()
    )
    files = sorted((root / "input" / "data" / "train").rglob("*.csv"))
    if len(files) != 1:
        raise DatasetError(f"expected one CSV file in the train channel, found {len(files)}")
    table = read_csv(files[0], target=str(hyperparameters.get("target", CHURN_TARGET)))
    params = json.loads(hyperparameters.get("params") or "{}")
    spec = TrainingSpec(
        name=str(hyperparameters["model_name"]),
        algorithm=str(hyperparameters.get("algorithm", "logistic_regression")),
        params=params or None,
        parent_version=hyperparameters.get("parent_version") or None,
        data_uri=str(hyperparameters.get("data_uri", files[0].as_uri())),
        data_etag=hyperparameters.get("data_etag") or None,
    )
    manifest = write_model(train(table, spec), root / "model")
    print(json.dumps({"version": manifest.version, "metrics": manifest.metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(run())
