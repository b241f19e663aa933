"""Bring your own model: a churn pipeline fitted in a notebook, shipped with modelship.

Copy this file and swap in your own data and pipeline. It goes through the whole journey:

  1. a CSV (written here, deterministic; yours in real life)
  2. a scikit-learn Pipeline fitted on a pandas DataFrame: SimpleImputer, OneHotEncoder
     selecting columns by name through a ColumnTransformer, a gradient-boosting classifier
  3. joblib.dump, as any notebook does
  4. modelship.package: schema inferred from the sample, smoke-checked, written as a model
     directory (the CLI equivalent: `modelship models package model.joblib --sample ...`)
  5. modelship models publish / release create / promote
  6. POST /predict over HTTP, the API's probabilities printed next to predict_proba's

Run it against the local emulator (no AWS account, no Docker; from the repository root):

    make synth
    source .venv/bin/activate
    eval "$(modelship local up --detach)"
    python examples/churn_pipeline.py
    modelship local down

`--fit-only` stops after step 3 (model.joblib and holdout.csv in --out) for the CLI route.

or against a deployed stack, with MODELSHIP_BUCKET, MODELSHIP_FUNCTION and MODELSHIP_API_URL
(the stack's ApiUrl output) exported and AWS credentials allowed to invoke the API.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

import modelship

TARGET = "churned"
NUMERIC = [
    "tenure_months",
    "monthly_charges",
    "total_charges",
    "support_calls",
    "num_products",
    "senior_citizen",
]
CATEGORICAL = ["contract", "payment_method", "internet_service", "paperless_billing"]
# The model name the predict function serves (cdk.json `modelName`).
MODEL_NAME = "churn"


def write_example_csv(path: Path, rows: int = 3000, seed: int = 7) -> Path:
    """A churn-like CSV, the same for the same arguments. New customers (tenure 0) have no
    total charges yet: those cells are empty, so the imputer has work to do."""
    from modelship.training.churn import generate_churn

    table = generate_churn(n_rows=rows, seed=seed)
    frame = pd.DataFrame({name: table.columns[name] for name in [*NUMERIC, *CATEGORICAL]})
    frame[TARGET] = table.target_values()
    for column in ("tenure_months", "support_calls", "num_products", "senior_citizen"):
        frame[column] = frame[column].astype("int64")
    frame.loc[frame["tenure_months"] == 0, "total_charges"] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def build_pipeline() -> Pipeline:
    """Imputation and one-hot encoding by column name, then gradient boosting."""
    preprocess = ColumnTransformer(
        [
            ("numeric", SimpleImputer(strategy="median"), NUMERIC),
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                CATEGORICAL,
            ),
        ]
    )
    classifier = GradientBoostingClassifier(n_estimators=150, max_depth=3, random_state=0)
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def fit(csv: Path) -> tuple[Pipeline, pd.DataFrame]:
    """The fitted pipeline and the labelled holdout it never saw."""
    frame = pd.read_csv(csv)
    train, holdout = train_test_split(frame, test_size=0.25, random_state=0, stratify=frame[TARGET])
    pipeline = build_pipeline().fit(train.drop(columns=[TARGET]), train[TARGET])
    return pipeline, holdout


def modelship_cli(*argv: str) -> dict[str, Any]:
    """Runs a `modelship` command as you would type it and returns its JSON answer."""
    from modelship.cli import main

    print(f"$ modelship {' '.join(argv)}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([*argv, "--output", "json"])
    if code != 0:
        raise SystemExit(f"`modelship {' '.join(argv)}` failed (exit {code})")
    answer: dict[str, Any] = json.loads(out.getvalue())
    return answer


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST with a SigV4 signature by boto3's credentials (the API's default authMode=iam
    needs one, on AWS and on the local emulator alike)."""
    from urllib.parse import urlsplit

    from modelship.api_client import call

    if not url.startswith(("https://", "http://")):
        raise SystemExit(f"{url} is not an http(s) URL")
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"content-type": "application/json"}
    data = json.dumps(body).encode()
    answer = call(f"{parts.scheme}://{parts.netloc}", "POST", path, data, headers)
    if answer.status >= 400:
        raise SystemExit(f"POST {url} answered {answer.status}: {answer.body.decode()}")
    result: dict[str, Any] = answer.json()
    return result


def as_instances(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON objects: missing values become null."""
    instances = []
    for record in rows.to_dict(orient="records"):
        instances.append(
            {
                name: None if isinstance(value, float) and math.isnan(value) else value
                for name, value in record.items()
            }
        )
    return instances


@dataclass
class Journey:
    pipeline: Pipeline
    holdout: pd.DataFrame
    model_version: str
    lambda_version: str
    rows: pd.DataFrame
    http: dict[str, Any]

    def local_probabilities(self) -> np.ndarray:
        probabilities: np.ndarray = self.pipeline.predict_proba(self.rows)
        return probabilities

    def http_probabilities(self) -> np.ndarray:
        classes = [str(c) for c in self.pipeline.classes_]
        return np.array([[p[c] for c in classes] for p in self.http["probabilities"]])


def fit_and_dump(out: Path, csv: Path | None = None) -> tuple[Pipeline, pd.DataFrame]:
    """Steps 1-3, what happens in your notebook: data, fit, joblib.dump (and the holdout
    rows saved beside the model, the sample `models package` reads)."""
    csv = csv or write_example_csv(out / "churn.csv")
    pipeline, holdout = fit(csv)
    joblib.dump(pipeline, out / "model.joblib")
    holdout.to_csv(out / "holdout.csv", index=False)
    return pipeline, holdout


def run(out: Path, api_url: str, *, csv: Path | None = None, rows: int = 5) -> Journey:
    pipeline, holdout = fit_and_dump(out, csv)

    # 4: package. The labelled holdout is the sample: its columns give the schema (kinds,
    # categories, ranges, which columns may be null), its labels the holdout metrics. The
    # artifact is loaded back as the predict function loads it and must predict the same.
    manifest = modelship.package(
        pipeline, holdout, name=MODEL_NAME, target=TARGET, out=out / "package"
    )
    print(f"packaged {manifest.name} {manifest.version}: {manifest.metrics}")

    # 5: publish to the registry (write-once), release a Lambda version pinned to it, and
    # promote it. In production prefer a canary: `modelship rollout --plan 10:10m,100`.
    modelship_cli("models", "publish", str(out / "package"))
    release = modelship_cli("release", "create", manifest.version, "--reason", "byo example")
    lambda_version = str(release["version"])
    modelship_cli("promote", "--version", lambda_version, "--reason", "byo example")

    # 6: call it, with one new customer (no total charges yet: null in the JSON) among them.
    features = holdout.drop(columns=[TARGET])
    new_customer = features[features["total_charges"].isna()].head(1)
    sample = pd.concat([new_customer, features.head(rows - len(new_customer))])
    answer = post_json(f"{api_url}/predict", {"instances": as_instances(sample)})
    return Journey(pipeline, holdout, manifest.version, lambda_version, sample, answer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/churn-example"))
    parser.add_argument("--csv", type=Path, help="your CSV (default: write the example's)")
    parser.add_argument(
        "--api-url",
        default=os.environ.get("MODELSHIP_API_URL"),
        help="the HTTP API's base URL (default: $MODELSHIP_API_URL)",
    )
    parser.add_argument(
        "--fit-only",
        action="store_true",
        help="stop after joblib.dump: package, publish and release with the CLI yourself",
    )
    args = parser.parse_args(argv)
    if not args.api_url and not args.fit_only:
        parser.error("--api-url or MODELSHIP_API_URL is required")
    if args.out.exists() and any(args.out.iterdir()):
        parser.error(f"{args.out} is not empty; choose a new --out")
    args.out.mkdir(parents=True, exist_ok=True)

    if args.fit_only:
        fit_and_dump(args.out, args.csv)
        print(f"wrote {args.out / 'model.joblib'} and {args.out / 'holdout.csv'}; next:")
        print(
            f"modelship models package {args.out / 'model.joblib'} --sample "
            f"{args.out / 'holdout.csv'} --target {TARGET} --name {MODEL_NAME} "
            f"--out {args.out / 'package'}"
        )
        return 0

    journey = run(args.out, args.api_url.rstrip("/"), csv=args.csv)
    local = journey.local_probabilities()
    remote = journey.http_probabilities()
    print(f"\n{journey.http['model_version']} over HTTP against predict_proba in this process:")
    print(f"{'row':>3}  {'HTTP p(churn)':>20}  {'predict_proba':>20}  {'|diff|':>8}")
    for i, (http_row, local_row) in enumerate(zip(remote, local, strict=True)):
        diff = abs(http_row[-1] - local_row[-1])
        print(f"{i:>3}  {http_row[-1]:>20.17f}  {local_row[-1]:>20.17f}  {diff:>8.1e}")
    worst = float(np.max(np.abs(remote - local)))
    print(f"largest difference: {worst:.1e}")
    return 0 if worst <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
