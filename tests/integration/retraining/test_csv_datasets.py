"""CSV datasets read from moto S3 the way Prepare reads them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from modelship.errors import DatasetError
from modelship.retraining.datasets import DatasetRef, find_dataset, max_dataset_bytes, read_dataset
from modelship.training.churn import generate_churn
from modelship.training.tables import table_to_csv_bytes
from tests.conftest import BUCKET


def _ref(s3: Any, key: str, body: bytes) -> DatasetRef:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return find_dataset(s3, BUCKET, "churn", key)


def test_a_cr_only_dataset_is_read_like_its_lf_twin(s3: Any) -> None:
    table = generate_churn(n_rows=120, seed=3)
    lf = table_to_csv_bytes(table).replace(b"\r\n", b"\n")
    ref = _ref(s3, "datasets/churn/mac.csv", lf.replace(b"\n", b"\r"))

    read = read_dataset(s3, ref, None, default_target="churned")

    assert read.n_rows == 120
    assert read.kinds == table.kinds
    assert np.array_equal(read.columns["churned"], table.columns["churned"])


def test_the_size_cap_follows_the_function_memory(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Prepare has 2048 MB: a CSV the parse cannot hold in that is refused before any read.
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "2048")
    cap = max_dataset_bytes()
    ref = DatasetRef(BUCKET, "datasets/churn/huge.csv", "etag", cap + 1)

    with pytest.raises(DatasetError, match=r"more than the .* 2048 MB"):
        read_dataset(s3, ref, None, default_target="churned")

    assert cap < 2048 * 1024 * 1024 // 2
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    assert max_dataset_bytes() == 1024 * 1024 * 1024
