"""Model directories written by hand for serving tests: any fitted estimator, joblib or
skops, with or without its own code zipped beside it, and a manifest naming them. Packaging
builds the same directories from a sample; these tests need only the files."""

from __future__ import annotations

import platform
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sklearn

from modelship.digest import file_digest
from modelship.names import MODEL_CODE_FILE, MODEL_MANIFEST_FILE
from modelship.registry.manifest import (
    ARTIFACT_FILES,
    ArtifactInfo,
    CodeInfo,
    EstimatorInfo,
    FeatureSpec,
    InputFormat,
    Manifest,
    RuntimeInfo,
    Task,
    TrainingData,
)


def write_model_dir(
    estimator: Any,
    out: Path,
    *,
    features: Sequence[FeatureSpec],
    task: Task,
    name: str = "byo",
    version: str = "v1",
    input_format: InputFormat = "array",
    artifact_format: str = "joblib",
    trusted_types: Sequence[str] = (),
    code: Sequence[Path] = (),
) -> Manifest:
    """Dumps `estimator` into `out` (with `code`, module files, zipped as code.zip) and
    writes the manifest last."""
    out.mkdir(parents=True, exist_ok=True)
    artifact = out / ARTIFACT_FILES[artifact_format]
    if artifact_format == "skops":
        import skops.io

        skops.io.dump(estimator, artifact)
    else:
        joblib.dump(estimator, artifact)
    sha256, size = file_digest(artifact)
    code_info = None
    if code:
        code_info = zip_code(code, out / MODEL_CODE_FILE)
    classes = None
    if task == "classification":
        classes = tuple(int(c) if isinstance(c, np.integer) else str(c) for c in estimator.classes_)
    manifest = Manifest(
        name=name,
        version=version,
        created_at=datetime.now(UTC),
        task=task,
        classes=classes,
        features=tuple(features),
        input_format=input_format,
        artifact=ArtifactInfo(
            file=artifact.name,
            sha256=sha256,
            size_bytes=size,
            format=artifact_format,  # type: ignore[arg-type]
            trusted_types=tuple(trusted_types),
        ),
        code=code_info,
        runtime=RuntimeInfo(
            python=platform.python_version(),
            sklearn=sklearn.__version__,
            numpy=np.__version__,
            joblib=joblib.__version__,
        ),
        origin="packaged",
        estimator=EstimatorInfo(algorithm=type(estimator).__name__, params={}),
        metrics={},
        training_data=TrainingData(uri="file://sample.csv", rows=10, target=None),
    )
    (out / MODEL_MANIFEST_FILE).write_text(manifest.to_json())
    return manifest


def zip_code(modules: Sequence[Path], zip_path: Path) -> CodeInfo:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for module in modules:
            archive.write(module, module.name)
    sha256, size = file_digest(zip_path)
    return CodeInfo(sha256=sha256, size_bytes=size, modules=tuple(m.stem for m in modules))


CUSTOM_TRANSFORMER = '''
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin


class Doubler(TransformerMixin, BaseEstimator):
    """Doubles every (numeric) column; keeps DataFrame column names out of the way."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=float) * 2.0
'''


def user_module(directory: Path, name: str, monkeypatch: Any) -> Any:
    """A user's module defining `Doubler`, written to `directory` and imported from there;
    `monkeypatch` forgets it (path entry and loaded module) at the end of the test. Call
    `forget_module` before loading a model, to be the fresh runtime that never saw it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(CUSTOM_TRANSFORMER)
    monkeypatch.syspath_prepend(str(directory))
    import importlib
    import sys

    module = importlib.import_module(name)
    monkeypatch.setitem(sys.modules, name, module)
    return module


def forget_module(name: str, directory: Path, monkeypatch: Any) -> None:
    import sys

    monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(directory)])


SCALING_PACKAGE = "byo_feat"
_SCALE = '''
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin


class Scale(RegressorMixin, BaseEstimator):
    """Predicts the first column times FACTOR: versions of this code answer differently."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        return np.asarray(X, dtype=float)[:, 0] * FACTOR


FACTOR = {factor}
'''


def scaling_model(
    tmp_path: Path, factor: float, features: Sequence[FeatureSpec], version: str
) -> Manifest:
    """A model directory (tmp_path/<version>) whose code.zip holds the package SCALING_PACKAGE
    (`Scale` lives in its submodule `scale`) predicting the first column times `factor`:
    call it with two factors for two versions of one user's code under the same module name.
    The package is imported only while the model is pickled: sys.path and sys.modules are
    as they were afterwards."""
    import importlib
    import sys

    from modelship.packaging.code_bundle import code_source, write_code_zip

    source = tmp_path / f"{version}-source"
    package = source / SCALING_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"from {SCALING_PACKAGE}.scale import Scale\n")
    (package / "scale.py").write_text(_SCALE.format(factor=factor))
    saved_path = list(sys.path)
    forget_package(SCALING_PACKAGE)
    sys.path.insert(0, str(source))
    try:
        model = importlib.import_module(SCALING_PACKAGE).Scale().fit(np.zeros((2, len(features))))
        out = tmp_path / version
        manifest = write_model_dir(
            model, out, features=features, task="regression", version=version
        )
        info = write_code_zip(code_source([package]), out / MODEL_CODE_FILE)
        manifest = manifest.model_copy(update={"code": info})
        (out / MODEL_MANIFEST_FILE).write_text(manifest.to_json())
    finally:
        sys.path[:] = saved_path
        forget_package(SCALING_PACKAGE)
    return manifest


def forget_package(name: str) -> None:
    """Drops `name` and its submodules from sys.modules."""
    import sys

    for loaded in [n for n in sys.modules if n == name or n.startswith(f"{name}.")]:
        del sys.modules[loaded]
