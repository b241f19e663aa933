"""The modules a model's pickle refers to, and which of them the predict function has."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from modelship.errors import PackagingError
from modelship.packaging.dependencies import (
    PickleReferences,
    check_modules,
    check_versions,
    pickle_references,
)
from modelship.registry.manifest import FeatureSpec
from modelship.training.training import current_runtime

X = np.arange(20.0).reshape(10, 2)


def test_classes_and_functions_are_recorded_by_their_module() -> None:
    model = make_pipeline(FunctionTransformer(np.log1p), LinearRegression()).fit(X, X.sum(1))

    references = pickle_references(model)

    assert {"sklearn", "numpy"} <= references.modules
    assert "sklearn.linear_model._base.LinearRegression" in references.names["sklearn"]
    assert "numpy.log1p" in references.names["numpy"]


def test_arrays_larger_than_a_pickle_frame_are_walked() -> None:
    # Protocol 5 writes such arrays as out-of-band PickleBuffers (a random forest's trees).
    model = LinearRegression().fit(X, X.sum(1))
    model.coef_ = np.zeros(100_000)

    references = pickle_references(model)

    assert "numpy" in references.modules


def test_the_standard_library_the_layer_and_shipped_code_pass() -> None:
    references = PickleReferences(
        {
            "collections": frozenset({"collections.OrderedDict"}),
            "pandas": frozenset({"pandas.DataFrame"}),
            "shop_features": frozenset({"shop_features.LogAmount"}),
        }
    )

    check_modules(references, ["shop_features"])


def test_modelships_own_modules_are_refused() -> None:
    references = pickle_references(FeatureSpec(name="a", kind="numeric", dtype="int"))

    with pytest.raises(PackagingError, match=r"lacks: modelship \(modelship") as raised:
        check_modules(references, [])

    assert raised.value.reason == "missing_module"


def test_a_module_that_is_nowhere_asks_for_code() -> None:
    references = PickleReferences({"notebook_helpers": frozenset({"notebook_helpers.Scale"})})

    with pytest.raises(PackagingError, match=r"notebook_helpers \(notebook_helpers.Scale\)"):
        check_modules(references, [])


def test_pandas_is_checked_only_when_the_pickle_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelship.packaging import dependencies

    real = dependencies.layer_version
    monkeypatch.setattr(
        dependencies, "layer_version", lambda d: "0.1.0" if d == "pandas" else real(d)
    )
    running = current_runtime()

    check_versions(running, PickleReferences({"sklearn": frozenset()}), "joblib")
    with pytest.raises(PackagingError, match=r"pandas .* \(the layer has 0\.1\.0\)"):
        check_versions(running, PickleReferences({"pandas": frozenset()}), "joblib")
