"""Training datasets in S3 under datasets/<name>/: found, read (CSV or Parquet) and checked
against the declared schema before any training starts."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from modelship.errors import DatasetError
from modelship.names import DATASETS_PREFIX
from modelship.registry.manifest import FeatureKind, Manifest
from modelship.training.csv_reader import csv_header, read_csv
from modelship.training.tables import Table

SUPPORTED_SUFFIXES = (".csv", ".parquet")
SCHEMA_FILE = "schema.json"
# A task's memory holds the whole table; refuse what cannot fit rather than die mid-read.
DEFAULT_MAX_DATASET_BYTES = 1024 * 1024 * 1024
# Reading a CSV peaks at about 2 bytes of memory per byte of CSV (the column arrays and one
# block of records; `make bench`, docs/performance.md "CSV ingestion"); 2.5 leaves a margin.
CSV_PEAK_BYTES_PER_BYTE = 2.5
# What the runtime holds before any data: Python, numpy, scikit-learn, boto3 and the handler.
RUNTIME_RESERVE_MB = 512
MIB = 1024 * 1024


@dataclass(frozen=True)
class DatasetRef:
    """One exact dataset object: later reads use IfMatch=etag, so a replaced file is noticed."""

    bucket: str
    key: str
    etag: str
    size_bytes: int

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "etag": self.etag,
            "size_bytes": self.size_bytes,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DatasetRef:
        return cls(raw["bucket"], raw["key"], raw["etag"], int(raw["size_bytes"]))


class DeclaredSchema(BaseModel):
    """What a dataset must contain: the target and the feature columns with their kinds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str = Field(min_length=1)
    features: dict[str, FeatureKind] = Field(min_length=1)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> DeclaredSchema:
        return cls(
            target=manifest.training_data.target,
            features={f.name: f.kind for f in manifest.features},
        )


def dataset_prefix(name: str) -> str:
    return f"{DATASETS_PREFIX}/{name}/"


def find_dataset(s3: Any, bucket: str, name: str, key: str | None = None) -> DatasetRef:
    """The given key, or the most recently written dataset under datasets/<name>/."""
    prefix = dataset_prefix(name)
    if key is not None:
        if not key.startswith(prefix) or not key.endswith(SUPPORTED_SUFFIXES):
            raise DatasetError(
                f"s3://{bucket}/{key} is not a dataset of {name}: "
                f"expected {prefix}*.csv or *.parquet"
            )
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise DatasetError(f"no dataset at s3://{bucket}/{key}") from None
            raise
        return DatasetRef(bucket, key, head["ETag"].strip('"'), int(head["ContentLength"]))
    newest: dict[str, Any] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            # Same-second uploads tie on LastModified; the key breaks the tie (date-named files).
            if item["Key"].endswith(SUPPORTED_SUFFIXES) and (
                newest is None
                or (item["LastModified"], item["Key"]) > (newest["LastModified"], newest["Key"])
            ):
                newest = item
    if newest is None:
        raise DatasetError(f"no .csv or .parquet dataset under s3://{bucket}/{prefix}")
    return DatasetRef(bucket, newest["Key"], newest["ETag"].strip('"'), int(newest["Size"]))


def declared_schema(s3: Any, bucket: str, name: str) -> DeclaredSchema | None:
    """datasets/<name>/schema.json when present (it wins over the champion's features).

    Presence is asked with a listing of that key: under a ListBucket grant conditioned on
    `s3:prefix` (the Prepare role's), S3 may answer a GetObject of a missing key 403 rather
    than 404, and a 403 must not pass for "absent". Once listed, any error of the read is real.
    """
    key = dataset_prefix(name) + SCHEMA_FILE
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    if not any(item["Key"] == key for item in listed.get("Contents", [])):
        return None
    try:
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
            return None
        raise
    try:
        return DeclaredSchema.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        raise DatasetError(f"s3://{bucket}/{key} is not a valid schema: {exc}") from None


def max_dataset_bytes() -> int:
    """The largest dataset this process reads: 1 GiB, or less in a Lambda function whose memory
    (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by Lambda) could not hold the parse of a larger one:
    (memory - RUNTIME_RESERVE_MB) / CSV_PEAK_BYTES_PER_BYTE, 614 MB for a 2048 MB Prepare."""
    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    if not memory.isdigit():
        return DEFAULT_MAX_DATASET_BYTES
    room = max(0, int(memory) - RUNTIME_RESERVE_MB) * MIB
    return min(DEFAULT_MAX_DATASET_BYTES, int(room / CSV_PEAK_BYTES_PER_BYTE))


def read_dataset(
    s3: Any,
    ref: DatasetRef,
    schema: DeclaredSchema | None,
    default_target: str,
    max_bytes: int | None = None,
) -> Table:
    """Reads exactly the object `ref` names and checks it against `schema`: every declared
    column present with its kind; undeclared columns are dropped. A CSV is streamed to a
    temporary file and parsed from there, so memory never holds its text."""
    if ref.size_bytes == 0:
        raise DatasetError(f"{ref.uri} is empty")
    limit = max_dataset_bytes() if max_bytes is None else max_bytes
    if ref.size_bytes > limit:
        memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        within = f" with {memory} MB of function memory" if memory else ""
        raise DatasetError(
            f"{ref.uri} is {ref.size_bytes} bytes, more than the {limit} this trainer "
            f"reads{within}; use the SageMaker training backend for large datasets"
        )
    try:
        body = s3.get_object(Bucket=ref.bucket, Key=ref.key, IfMatch=f'"{ref.etag}"')["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"PreconditionFailed", "412"}:
            raise DatasetError(
                f"{ref.uri} changed since it was prepared (ETag {ref.etag})"
            ) from None
        raise
    target = schema.target if schema else default_target
    if ref.key.endswith(".parquet"):
        table = _read_parquet(body.read(), ref.uri, target)
    else:
        table = _read_csv_object(body, ref.uri, schema, target)
    return _conform(table, schema, ref.uri)


def _read_csv_object(body: Any, uri: str, schema: DeclaredSchema | None, target: str) -> Table:
    categorical = [n for n, k in (schema.features.items() if schema else []) if k == "categorical"]
    numeric = [n for n, k in (schema.features.items() if schema else []) if k == "numeric"]
    with tempfile.TemporaryDirectory(prefix="modelship-dataset-") as work:
        path = Path(work) / "dataset.csv"
        with path.open("wb") as out:
            shutil.copyfileobj(body, out, MIB)
        _check_columns(uri, set(csv_header(path)), schema, target)
        return read_csv(path, target=target, categorical=categorical, numeric=numeric)


def _check_columns(uri: str, columns: set[str], schema: DeclaredSchema | None, target: str) -> None:
    expected = {target, *(schema.features if schema else {})}
    missing = sorted(expected - columns)
    if missing:
        raise DatasetError(f"{uri} is missing column(s): {', '.join(missing)}")


def _conform(table: Table, schema: DeclaredSchema | None, uri: str) -> Table:
    if schema is None:
        return table
    _check_columns(uri, set(table.columns), schema, table.target)
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, FeatureKind] = {}
    for name, kind in schema.features.items():
        if table.kinds[name] != kind:
            raise DatasetError(
                f"{uri}: column {name!r} should be {kind} but holds {table.kinds[name]} values"
            )
        columns[name] = table.columns[name]
        kinds[name] = kind
    columns[table.target] = table.columns[table.target]
    return Table(columns=columns, kinds=kinds, target=table.target)


def _read_parquet(body: bytes, uri: str, target: str) -> Table:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DatasetError(
            f"{uri} is Parquet, and this runtime has no pyarrow; upload CSV or add pyarrow"
        ) from None
    try:
        arrow = pq.read_table(io.BytesIO(body))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DatasetError(f"{uri} is not a readable Parquet file: {type(exc).__name__}") from None
    if arrow.num_rows == 0:
        raise DatasetError(f"{uri} has no rows")
    if target not in arrow.column_names:
        raise DatasetError(f"{uri} is missing column(s): {target}")
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, FeatureKind] = {}
    for name in arrow.column_names:
        values = arrow.column(name).to_pylist()
        if any(v is None for v in values):
            raise DatasetError(f"{uri}: column {name!r} has missing values")
        if name == target:
            columns[name] = np.array(values)
            continue
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            columns[name] = np.array(values, dtype=float)
            kinds[name] = "numeric"
        else:
            columns[name] = np.array([str(v) for v in values], dtype=object)
            kinds[name] = "categorical"
    return Table(columns=columns, kinds=kinds, target=target)
