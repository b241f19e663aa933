"""The artifact file: the fitted model dumped with joblib, or with skops (which runs no code
on load and trusts only the types it is told to)."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import joblib

from modelship.digest import file_digest
from modelship.errors import PackagingError
from modelship.registry.manifest import ARTIFACT_FILES, ArtifactFormat, ArtifactInfo


def dump_artifact(
    model: Any,
    directory: Path,
    artifact_format: ArtifactFormat,
    code_modules: Iterable[str],
    trusted_types: Iterable[str] = (),
) -> ArtifactInfo:
    """Writes the artifact into `directory` and describes it for the manifest."""
    path = directory / ARTIFACT_FILES[artifact_format]
    trusted: tuple[str, ...] = ()
    if artifact_format == "joblib":
        joblib.dump(model, path)
    else:
        import skops.io

        try:
            skops.io.dump(model, path)
        except Exception as exc:  # skops refuses objects it cannot represent, in many ways
            raise PackagingError(
                f"skops cannot store the model ({type(exc).__name__}: {exc}); use --format joblib",
                reason="untrusted_types",
            ) from None
        trusted = trusted_skops_types(
            skops.io.get_untrusted_types(file=path),
            code_modules,
            trusted_types,
            what="the skops file",
            otherwise="package with --format joblib",
        )
    sha256, size = file_digest(path)
    return ArtifactInfo(
        file=path.name,
        sha256=sha256,
        size_bytes=size,
        format=artifact_format,
        trusted_types=trusted,
    )


def trusted_skops_types(
    untrusted: Iterable[str],
    code_modules: Iterable[str],
    trusted_types: Iterable[str] = (),
    *,
    what: str,
    otherwise: str = "",
) -> tuple[str, ...]:
    """The types beyond skops' defaults that `what` needs, all of which must be trusted:
    scikit-learn's own, numpy's and scipy.sparse's data containers, the model's --code
    modules', and the ones the user names. Anything else (a function of the standard library
    or of numpy, a class of another library) could run anything on load: refused by name."""
    named = set(trusted_types)
    modules = set(code_modules)
    types = sorted(set(untrusted))
    refused = [
        t
        for t in types
        if not (
            t in named
            or t.startswith("sklearn.")
            or t.split(".")[0] in modules
            or _data_container(t)
        )
    ]
    if refused:
        listed = ", ".join(refused)
        flags = " ".join(f"--trust {t}" for t in refused)
        raise PackagingError(
            f"{what} needs types modelship does not trust by default: {listed} (neither "
            "scikit-learn's, numpy or scipy.sparse data containers, nor from the model's "
            f"--code modules). If you trust them, pass {flags} (trusted_types=[...] in "
            f"Python)" + (f"; otherwise {otherwise}" if otherwise else ""),
            reason="untrusted_types",
        )
    return tuple(types)


def _data_container(type_name: str) -> bool:
    """numpy's dtypes, arrays and scalar types, scipy.sparse's matrix and array classes: the
    data a fitted estimator holds. Only modules of numpy and scipy.sparse are imported to
    tell; a function or any other class there is not data."""
    module, _, attribute = type_name.rpartition(".")
    package = module.split(".")[:2]
    if not (package[0] == "numpy" or package == ["scipy", "sparse"]):
        return False
    try:
        found = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError):
        return False
    if not isinstance(found, type):
        return False
    if package[0] == "numpy":
        import numpy as np

        return issubclass(found, np.dtype | np.ndarray | np.generic)
    from scipy import sparse

    return issubclass(found, sparse.spmatrix | sparse.sparray)
