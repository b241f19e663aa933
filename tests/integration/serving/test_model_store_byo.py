"""ModelStore with models fitted outside modelship: DataFrame input, skops, the model's own
code.zip downloaded, verified, unpacked and imported; damaged code refused."""

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from modelship.errors import IncompatibleModel, IntegrityError
from modelship.registry.manifest import FeatureSpec, Manifest
from modelship.registry.registry import Registry, code_key
from modelship.serving.model_store import ModelStore
from tests.conftest import BUCKET, GetObjectCounter
from tests.hand_built_models import (
    SCALING_PACKAGE,
    forget_module,
    forget_package,
    scaling_model,
    user_module,
    write_model_dir,
)

FEATURES = (
    FeatureSpec(name="usage", kind="numeric", dtype="float", frame_dtype="float64"),
    FeatureSpec(name="seats", kind="numeric", dtype="int", frame_dtype="int64"),
    FeatureSpec(
        name="plan", kind="categorical", dtype="str", categories=("a", "b"), frame_dtype="str"
    ),
)
MODULE = "store_features"


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "usage": rng.normal(10, 3, 120),
            "seats": rng.integers(1, 50, 120),
            "plan": pd.Series(rng.choice(["a", "b"], 120), dtype="str"),
        }
    )
    return frame, (frame["usage"] > 10).to_numpy()


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"usage": float(u), "seats": float(s), "plan": p}
        for u, s, p in zip(frame["usage"], frame["seats"], frame["plan"], strict=True)
    ]


def _code_model(s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Manifest, Any]:
    """A DataFrame pipeline with the user's own transformer, published with its code, then
    forgotten by this process (as a fresh Lambda runtime never saw it)."""
    source = tmp_path / "user-code"
    user = user_module(source, MODULE, monkeypatch)
    frame, target = _frame()
    model = make_pipeline(
        ColumnTransformer(
            [("doubled", user.Doubler(), ["usage", "seats"]), ("plan", OneHotEncoder(), ["plan"])]
        ),
        LogisticRegression(),
    ).fit(frame, target)
    write_model_dir(
        model,
        tmp_path / "model",
        features=FEATURES,
        task="classification",
        input_format="dataframe",
        code=[source / f"{MODULE}.py"],
    )
    manifest = Registry(s3, BUCKET).publish(tmp_path / "model")
    forget_module(MODULE, source, monkeypatch)
    return manifest, model


def test_a_model_with_code_is_served_from_s3_then_from_tmp(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, get_object_counter: GetObjectCounter
) -> None:
    manifest, model = _code_model(s3, tmp_path, monkeypatch)
    frame, _ = _frame()
    cache = tmp_path / "cache"

    cold = ModelStore(s3, BUCKET, cache, 1 << 26).fetch("byo", "v1", manifest.artifact.sha256)
    served = cold.estimator.predict_proba(cold.schema.to_input(_rows(frame)))

    assert cold.source == "s3"
    assert sorted(k.rsplit("/", 1)[1] for k in get_object_counter.keys) == [
        "code.zip",
        "manifest.json",
        "model.joblib",
    ]
    assert np.array_equal(served, model.predict_proba(frame))
    entry = ModelStore(s3, BUCKET, cache, 1 << 26).entry_dir("byo", "v1", manifest.artifact.sha256)
    assert (entry / "code" / f"{MODULE}.py").is_file()

    calls = len(get_object_counter.keys)
    warm = ModelStore(s3, BUCKET, cache, 1 << 26).fetch("byo", "v1", manifest.artifact.sha256)

    assert warm.source == "tmp"
    assert len(get_object_counter.keys) == calls
    assert np.array_equal(warm.estimator.predict_proba(warm.schema.to_input(_rows(frame))), served)


@pytest.mark.parametrize("order", [("v2", "v3"), ("v3", "v2")])
def test_two_versions_whose_code_shares_a_module_name_each_answer_with_their_own(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, order: tuple[str, str]
) -> None:
    """One warm container serving two versions of a model whose code.zip has the same
    package name: each version is unpickled against its own code."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    features = (FeatureSpec(name="x", kind="numeric", dtype="float"),)
    factors = {"v2": 2.0, "v3": 3.0}
    sha = {}
    for version, factor in factors.items():
        scaling_model(tmp_path, factor, features, version)
        sha[version] = Registry(s3, BUCKET).publish(tmp_path / version).artifact.sha256
    store = ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26)
    rows = [{"x": 1.5}, {"x": -4.0}]
    try:
        loaded = {v: store.fetch("byo", v, sha[v]) for v in order}

        for version, model in loaded.items():
            served = model.estimator.predict(model.schema.to_input(rows))
            assert served.tolist() == [1.5 * factors[version], -4.0 * factors[version]]
    finally:
        forget_package(SCALING_PACKAGE)


def test_a_tampered_code_zip_in_s3_is_refused(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _ = _code_model(s3, tmp_path, monkeypatch)
    key = code_key("byo", "v1")
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"PK" + b"\0" * (manifest.code.size_bytes - 2))  # type: ignore[union-attr]

    with pytest.raises(IntegrityError) as caught:
        ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26).fetch("byo", "v1")

    assert caught.value.reason == "sha256_mismatch"
    entry = tmp_path / "cache" / "byo" / "v1" / manifest.artifact.sha256
    assert not (entry / "code.zip").exists()
    assert not (entry / "manifest.json").exists()


def test_a_damaged_cached_code_zip_is_fetched_again(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest, _ = _code_model(s3, tmp_path, monkeypatch)
    sha = manifest.artifact.sha256
    store = ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26)
    store.fetch("byo", "v1", sha)
    (store.entry_dir("byo", "v1", sha) / "code.zip").write_bytes(b"bit rot")

    again = ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26).fetch("byo", "v1", sha)

    assert again.source == "s3"
    assert (
        store.entry_dir("byo", "v1", sha) / "code.zip"
    ).stat().st_size == manifest.code.size_bytes  # type: ignore[union-attr]


def test_a_skops_model_is_fetched_by_its_file_name(s3: Any, tmp_path: Path) -> None:
    frame, target = _frame()
    model = make_pipeline(
        ColumnTransformer([("plan", OneHotEncoder(), ["plan"])], remainder="passthrough"),
        LogisticRegression(),
    ).fit(frame, target)
    write_model_dir(
        model,
        tmp_path / "model",
        features=FEATURES,
        task="classification",
        input_format="dataframe",
        artifact_format="skops",
    )
    Registry(s3, BUCKET).publish(tmp_path / "model")

    loaded = ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26).fetch("byo", "v1")

    assert loaded.manifest.artifact.file == "model.skops"
    served = loaded.estimator.predict_proba(loaded.schema.to_input(_rows(frame)))
    assert np.array_equal(served, model.predict_proba(frame))


def test_a_skops_model_needing_untrusted_types_is_refused(s3: Any, tmp_path: Path) -> None:
    frame, target = _frame()
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(
        ColumnTransformer([("usage", FunctionTransformer(np.nan_to_num), ["usage"])]),
        LogisticRegression(),
    ).fit(frame, target)
    write_model_dir(
        model,
        tmp_path / "model",
        features=FEATURES,
        task="classification",
        input_format="dataframe",
        artifact_format="skops",
    )
    Registry(s3, BUCKET).publish(tmp_path / "model")

    with pytest.raises(IncompatibleModel) as caught:
        ModelStore(s3, BUCKET, tmp_path / "cache", 1 << 26).fetch("byo", "v1")

    assert caught.value.reason == "untrusted_types"
    assert "numpy.nan_to_num" in str(caught.value)
