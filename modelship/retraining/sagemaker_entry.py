"""Training entry point inside a SageMaker training job (trainingBackend=sagemaker).

SageMaker mounts the dataset under /opt/ml/input/data/train, passes hyperparameters as a
JSON file, and uploads /opt/ml/model as model.tar.gz when the process exits 0. The image
(layers/sagemaker/Dockerfile) has the layer's exact library versions, so the model it writes
loads in the predict function. With an `entry_point` hyperparameter the user's training
function fits the model (its code is in the image, under $TRAINING_CODE_DIR) and the result
is packaged as the Lambda trainer would; without one, the built-in algorithm trains.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from modelship import names
from modelship.errors import DatasetError
from modelship.retraining.entry_point import train_with_entry_point
from modelship.training.churn import CHURN_TARGET
from modelship.training.csv_reader import read_csv
from modelship.training.training import TrainingSpec, train, write_model

SAGEMAKER_ROOT = Path("/opt/ml")


def run(root: Path = SAGEMAKER_ROOT, environ: dict[str, str] | None = None) -> int:
    env = os.environ if environ is None else environ
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
    entry_point = str(hyperparameters.get("entry_point") or "")
    if entry_point:
        code_dir = env.get(names.ENV_TRAINING_CODE_DIR)
        # Packaging renames a finished directory into place; /opt/ml/model may be a mount
        # point, so the files are moved into it afterwards.
        packaged = Path(tempfile.mkdtemp(prefix="modelship-")) / "model"
        manifest = train_with_entry_point(
            table,
            entry_point,
            name=spec.name,
            out=packaged,
            holdout_fraction=spec.holdout_fraction,
            seed=spec.seed,
            code_dir=Path(code_dir) if code_dir else None,
            data_uri=spec.data_uri,
            data_etag=spec.data_etag,
            parent_version=spec.parent_version,
        )
        (root / "model").mkdir(parents=True, exist_ok=True)
        for file in packaged.iterdir():
            shutil.move(file, root / "model" / file.name)
    else:
        manifest = write_model(train(table, spec), root / "model")
    print(json.dumps({"version": manifest.version, "metrics": manifest.metrics}))
    return 0


if __name__ == "__main__":
    sys.exit(run())
