"""`modelship train`: fit a model on the reference dataset or a CSV and write its directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from modelship.cli.arguments import (
    description_of,
    description_options,
    output_option,
    parse_params,
)


def register(commands: Any) -> None:
    """Adds `train` to the `modelship` parser."""
    train = commands.add_parser(
        "train",
        parents=[output_option(), description_options()],
        help="train a model and write model.joblib + manifest.json",
    )
    train.add_argument("--name", default="churn", help="model name (default churn)")
    train.add_argument("--out", type=Path, required=True, help="empty directory to write to")
    train.add_argument(
        "--data", default="churn", help="'churn' for the reference dataset, or a CSV path"
    )
    train.add_argument("--target", help="target column of the CSV (default churned)")
    train.add_argument("--categorical", default="", help="comma-separated categorical columns")
    train.add_argument("--numeric", default="", help="comma-separated numeric columns")
    train.add_argument("--rows", type=int, default=6000, help="reference dataset rows")
    train.add_argument("--seed", type=int, default=7, help="reference dataset seed")
    train.add_argument("--drift", type=float, default=0.0, help="reference dataset drift, 0..1")
    train.add_argument("--algorithm", default="logistic_regression")
    train.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter"
    )
    train.add_argument("--holdout", type=float, default=0.2, help="holdout fraction")
    train.add_argument("--version", help="version id (default: timestamp plus random suffix)")
    train.add_argument("--parent", help="parent model version, for lineage")
    train.set_defaults(run=_train)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from modelship.training.churn import CHURN_TARGET, generate_churn
    from modelship.training.csv_reader import read_csv
    from modelship.training.training import TrainingSpec, train, write_model

    description = description_of(args)  # checked before any training
    if args.data == "churn":
        table = generate_churn(n_rows=args.rows, seed=args.seed, drift=args.drift)
        data_uri = f"generated:churn?rows={args.rows}&seed={args.seed}&drift={args.drift}"
    else:
        table = read_csv(
            Path(args.data),
            target=args.target or CHURN_TARGET,
            categorical=_csv_list(args.categorical),
            numeric=_csv_list(args.numeric),
        )
        data_uri = Path(args.data).resolve().as_uri()
    spec = TrainingSpec(
        name=args.name,
        algorithm=args.algorithm,
        params=parse_params(args.param),
        holdout_fraction=args.holdout,
        version=args.version,
        parent_version=args.parent,
        data_uri=data_uri,
        description=description,
    )
    manifest = write_model(train(table, spec), args.out)
    metrics = {k: round(v, 4) for k, v in manifest.metrics.items()}
    headline = (
        f"holdout ROC-AUC {metrics['roc_auc']:.4f}"
        if "roc_auc" in metrics
        else f"RMSE {metrics.get('rmse')}"
    )
    text = (
        f"trained {manifest.name} version {manifest.version} ({manifest.estimator.algorithm}, "
        f"{table.n_rows} rows): {headline}\n"
        f"metrics: {json.dumps(metrics)}\n"
        f"wrote {args.out / manifest.artifact.file} ({manifest.artifact.size_bytes} bytes, "
        f"sha256 {manifest.artifact.sha256[:12]}...) and manifest.json"
    )
    return {
        "text": text,
        "json": {
            "name": manifest.name,
            "version": manifest.version,
            "metrics": manifest.metrics,
            "artifact": manifest.artifact.model_dump(),
            "out": str(args.out),
        },
    }


def _csv_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]
