"""Which types a skops artifact may hold: scikit-learn's, the data containers of numpy and
scipy.sparse, the model's own --code modules' and the ones the user names; nothing else,
however common the library it comes from."""

from __future__ import annotations

import builtins
import operator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelship.errors import PackagingError
from modelship.packaging.artifact_file import trusted_skops_types
from modelship.packaging.packager import package

X = np.arange(20.0).reshape(10, 2)


def _with_function(function: object) -> Pipeline:
    return make_pipeline(FunctionTransformer(function), LinearRegression()).fit(X, X.sum(axis=1))


@pytest.mark.parametrize(
    "type_name",
    [
        "sklearn.tree._tree.Tree",
        "numpy.dtype",
        "numpy.float64",
        "numpy.dtypes.Float64DType",
        "scipy.sparse._csr.csr_matrix",
        "scipy.sparse.csr_array",
        "shop_features.LogAmount",  # a --code module's
    ],
)
def test_scikit_learn_data_containers_and_the_models_code_are_trusted(type_name: str) -> None:
    assert trusted_skops_types([type_name], ["shop_features"], what="f") == (type_name,)


@pytest.mark.parametrize(
    "type_name",
    [
        "numpy.round",  # a function, though numpy's
        "numpy.load",
        "scipy.sparse.linalg.spsolve",
        "builtins.eval",
        "_operator.neg",
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "pandas.core.frame.DataFrame",
        "boto3.session.Session",
        "cloudpickle.cloudpickle.subimport",
        "sklearnx.Anything",  # not scikit-learn, though named like it
    ],
)
def test_anything_else_is_refused_by_name_unless_named_by_the_user(type_name: str) -> None:
    with pytest.raises(PackagingError, match="does not trust by default") as raised:
        trusted_skops_types([type_name, "numpy.dtype"], ["shop_features"], what="f")

    assert raised.value.reason == "untrusted_types"
    assert f"--trust {type_name}" in str(raised.value)
    assert "numpy.dtype" not in str(raised.value)
    assert trusted_skops_types([type_name], (), [type_name], what="f") == (type_name,)


def test_a_plain_dataframe_pipeline_needs_no_trust(
    churn: pd.DataFrame, fitted_pipeline: Pipeline, tmp_path: Path
) -> None:
    manifest = package(
        fitted_pipeline, churn, name="churn", out=tmp_path / "m", artifact_format="skops"
    )

    assert set(manifest.artifact.trusted_types) == {
        "numpy.dtype",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    }


@pytest.mark.parametrize(
    ("function", "type_name"),
    [
        (operator.neg, "_operator.neg"),
        (builtins.abs, "builtins.abs"),
        (np.nan_to_num, "numpy.nan_to_num"),
    ],
)
def test_a_function_type_is_refused_then_packaged_when_the_user_trusts_it(
    function: object, type_name: str, tmp_path: Path
) -> None:
    model = _with_function(function)

    with pytest.raises(PackagingError, match=rf"by default: {type_name}\b") as raised:
        package(model, X, name="fn", out=tmp_path / "refused", artifact_format="skops")
    manifest = package(
        model, X, name="fn", out=tmp_path / "m", artifact_format="skops", trusted_types=[type_name]
    )

    assert raised.value.reason == "untrusted_types"
    assert not (tmp_path / "refused").exists()
    assert manifest.artifact.trusted_types == (type_name,)
    assert skops.io.get_untrusted_types(file=tmp_path / "m" / "model.skops") == [type_name]
