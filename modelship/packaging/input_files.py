"""What `models package` reads from disk: the saved model (.joblib, .pkl or .skops) and the
sample (CSV, or Parquet when pyarrow is installed)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.exceptions import InconsistentVersionWarning

from modelship.errors import PackagingError
from modelship.layer_runtime import layer_version
from modelship.packaging.artifact_file import trusted_skops_types
from modelship.packaging.code_bundle import CodeSource
from modelship.registry.manifest import ArtifactFormat

MODEL_SUFFIXES: dict[str, ArtifactFormat] = {
    ".joblib": "joblib",
    ".pkl": "joblib",
    ".skops": "skops",
}


def model_file_format(path: Path) -> ArtifactFormat:
    try:
        return MODEL_SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise PackagingError(
            f"{path} is not a model file: expected {', '.join(MODEL_SUFFIXES)}",
            reason="not_an_estimator",
        ) from None


def load_model_file(path: Path, code: CodeSource, trusted_types: Iterable[str] = ()) -> Any:
    """The model in `path`, unpickled with the --code modules importable (as the predict
    function will have them). A file pickled by another scikit-learn is refused, naming both.
    A .skops file is loaded only if every type it needs passes packaging's trust rule (the
    same as for the artifact written; `trusted_types` are the user's --trust names)."""
    artifact_format = model_file_format(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    with _importable(code), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InconsistentVersionWarning)
        try:
            model = _load(path, artifact_format, code, trusted_types)
        except ModuleNotFoundError as exc:
            raise PackagingError(
                f"{path} needs the module {exc.name!r}, which is not importable here; pass its "
                "file or package directory with --code PATH",
                reason="missing_module",
            ) from None
        except AttributeError as exc:
            # pickle names a missing class only in its message; a class of __main__ is the
            # notebook case worth its own advice.
            if "__main__" in str(exc):
                raise PackagingError(
                    f"{path} refers to a class or function defined in __main__ (a script or "
                    f"notebook): {exc}; move it into a module, re-fit, and pass it with --code",
                    reason="defined_in_main",
                ) from None
            raise PackagingError(
                f"{path} cannot be loaded: {exc}", reason="missing_module"
            ) from None
    mismatched = [w.message for w in caught if isinstance(w.message, InconsistentVersionWarning)]
    if mismatched:
        first = mismatched[0]
        raise PackagingError(
            f"{path} was pickled with scikit-learn {first.original_sklearn_version} "
            f"({first.estimator_name}); this environment has {first.current_sklearn_version} "
            f"and the layer {layer_version('scikit-learn')}: re-fit the model with "
            f"scikit-learn=={layer_version('scikit-learn')}",
            reason="version_mismatch",
        )
    return model


def read_sample_file(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if not path.is_file():
        raise FileNotFoundError(f"sample {path} does not exist")
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in {".parquet", ".pq"}:
        if importlib.util.find_spec("pyarrow") is None:
            raise PackagingError(
                f"reading {path} needs pyarrow, which is not installed: pip install pyarrow, "
                "or pass the sample as CSV",
                reason="invalid_sample",
            )
        return pd.read_parquet(path)
    raise PackagingError(
        f"sample {path}: expected a .csv or .parquet file", reason="invalid_sample"
    )


def _load(
    path: Path, artifact_format: ArtifactFormat, code: CodeSource, trusted_types: Iterable[str]
) -> Any:
    if artifact_format == "joblib":
        import joblib

        return joblib.load(path)
    import skops.io

    trusted = trusted_skops_types(
        skops.io.get_untrusted_types(file=path), code.modules, trusted_types, what=str(path)
    )
    return skops.io.load(path, trusted=list(trusted))


@contextlib.contextmanager
def _importable(code: CodeSource) -> Iterator[None]:
    """The --code paths' parent directories on sys.path for the duration."""
    added = [str(p.parent) for p in code.paths if str(p.parent) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
