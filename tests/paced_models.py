"""A copy of the reference model that answers more slowly, or fails its first call: the
candidates a canary verdict must tell apart from stable. The wrapper ships as the model's
own code (code.zip), as a user's custom estimator would, so the emulator's workers load it
from the artifact alone."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

import joblib

from modelship.digest import file_digest
from modelship.names import MODEL_ARTIFACT_FILE, MODEL_CODE_FILE, MODEL_MANIFEST_FILE
from modelship.packaging.code_bundle import code_source, write_code_zip
from modelship.registry.manifest import read_manifest_dir

PACED_PACKAGE = "paced_model"
_PACED = '''
import time

from sklearn.base import BaseEstimator, ClassifierMixin

# Calls in this process: a worker is one process, so FAIL_FIRST fails exactly one request.
CALLS = [0]


class Paced(ClassifierMixin, BaseEstimator):
    """`inner`, `delay` seconds slower per predict_proba call; with `fail_first` the first
    call in a process raises (a transient fault)."""

    def __init__(self, inner=None, delay=0.0, fail_first=False):
        self.inner = inner
        self.delay = delay
        self.fail_first = fail_first

    @property
    def classes_(self):
        return self.inner.classes_

    @property
    def n_features_in_(self):
        return self.inner.n_features_in_

    def predict_proba(self, X):
        CALLS[0] += 1
        if self.fail_first and CALLS[0] == 1:
            raise RuntimeError("transient fault on the first call")
        if self.delay:
            time.sleep(self.delay)
        return self.inner.predict_proba(X)

    def predict(self, X):
        return self.inner.predict(X)
'''


def paced_model(
    reference_dir: Path, out: Path, *, version: str, delay: float, fail_first: bool = False
) -> Path:
    """A model directory at `out`: the reference model wrapped in `Paced`, as `version`."""
    manifest = read_manifest_dir(reference_dir)
    inner = joblib.load(reference_dir / MODEL_ARTIFACT_FILE)
    source = out.parent / f"{out.name}-source"
    package = source / PACED_PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f"from {PACED_PACKAGE}.paced import Paced\n")
    (package / "paced.py").write_text(_PACED)
    out.mkdir(parents=True)
    saved_path = list(sys.path)
    _forget()
    sys.path.insert(0, str(source))
    try:
        model = importlib.import_module(PACED_PACKAGE).Paced(inner, delay, fail_first)
        joblib.dump(model, out / MODEL_ARTIFACT_FILE)
        code = write_code_zip(code_source([package]), out / MODEL_CODE_FILE)
    finally:
        sys.path[:] = saved_path
        _forget()
    sha256, size = file_digest(out / MODEL_ARTIFACT_FILE)
    artifact = manifest.artifact.model_copy(update={"sha256": sha256, "size_bytes": size})
    manifest = manifest.model_copy(
        update={"version": version, "artifact": artifact, "code": code, "origin": "packaged"}
    )
    (out / MODEL_MANIFEST_FILE).write_text(manifest.to_json())
    shutil.rmtree(source)
    return out


def _forget() -> None:
    for loaded in [
        n for n in sys.modules if n == PACED_PACKAGE or n.startswith(f"{PACED_PACKAGE}.")
    ]:
        del sys.modules[loaded]
