"""Turns verified model files into an estimator: the one loader every caller uses (the
predict function, packaging's smoke check, retraining's evaluation).

joblib artifacts are pickles and run code on load, so they are loaded only after their bytes
hashed to the manifest. skops artifacts load only the types skops trusts by default plus the
ones the manifest lists (accepted by name at packaging); a file needing any other is refused
with their names. The model's own code (code.zip) goes on the import path first, and its
modules are imported afresh from there: one process may load several models whose code has
the same module names (a challenger and its champion, versions in a warm container), and each
must be unpickled against its own copy. An estimator already loaded keeps the classes it was
built from.
"""

from __future__ import annotations

import importlib
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

from modelship.digest import file_digest
from modelship.errors import IncompatibleModel, IntegrityError
from modelship.registry.manifest import Manifest

# Refuse zips that would unpack into more than this (a zip bomb fills /tmp).
MAX_CODE_UNPACKED_BYTES = 256 * 1024 * 1024

# The code directories load_estimator put on sys.path, so the next model's load takes them off.
_code_dirs_on_path: list[str] = []


def load_estimator(manifest: Manifest, artifact: Path, code_dir: Path | None = None) -> Any:
    """The estimator in `artifact` (already verified against the manifest), checked against
    the manifest's schema. `code_dir` holds the model's unpacked code.zip."""
    where = f"{manifest.name}/{manifest.version}"
    if manifest.code is not None:
        if code_dir is None:
            raise IncompatibleModel(
                f"{where} ships code ({', '.join(manifest.code.modules)}) but none was unpacked",
                reason="missing_module",
            )
        _use_code(code_dir, manifest.code.modules)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            if manifest.artifact.format == "skops":
                estimator = _load_skops(manifest, artifact)
            else:
                estimator = joblib.load(artifact)
        except IncompatibleModel:
            raise
        except InconsistentVersionWarning as exc:
            raise IncompatibleModel(
                f"{where} was pickled with scikit-learn {exc.original_sklearn_version}; this "
                f"runtime has {sklearn.__version__}",
                reason="incompatible_sklearn",
            ) from None
        except ModuleNotFoundError as exc:
            shipped = (
                f" (code.zip provides {', '.join(manifest.code.modules)})" if manifest.code else ""
            )
            raise IncompatibleModel(
                f"{where} needs module {exc.name!r}, which this runtime lacks{shipped}",
                reason="missing_module",
            ) from None
        except Exception as exc:  # a verified file that will not load is unusable
            raise IncompatibleModel(
                f"{where} cannot be loaded: {type(exc).__name__}: {exc}",
                reason="unloadable_artifact",
            ) from None
    check_schema(manifest, estimator)
    return estimator


def _use_code(code_dir: Path, modules: tuple[str, ...]) -> None:
    """Makes `code_dir` the place `modules` are imported from: their copies already imported
    (another model's, or the packaging process's own) are dropped from sys.modules, the code
    directories earlier loads added leave sys.path, and `code_dir` goes first on it."""
    for name in [n for n in sys.modules if any(n == m or n.startswith(f"{m}.") for m in modules)]:
        del sys.modules[name]
    entry = str(code_dir)
    for earlier in [*_code_dirs_on_path, entry]:
        while earlier in sys.path:
            sys.path.remove(earlier)
    _code_dirs_on_path[:] = [entry]
    sys.path.insert(0, entry)
    importlib.invalidate_caches()


def _load_skops(manifest: Manifest, artifact: Path) -> Any:
    import skops.io  # only skops models pay for the import

    trusted = list(manifest.artifact.trusted_types)
    untrusted = sorted(set(skops.io.get_untrusted_types(file=artifact)) - set(trusted))
    if untrusted:
        raise IncompatibleModel(
            f"{manifest.name}/{manifest.version}: the skops file holds types the manifest "
            f"does not trust: {', '.join(untrusted)}",
            reason="untrusted_types",
        )
    return skops.io.load(artifact, trusted=trusted)


def unpack_code(zip_path: Path, manifest: Manifest, dest: Path) -> Path:
    """Extracts the model's code.zip into `dest` (replacing what is there) after checking
    its bytes against the manifest and every member path; returns `dest`, the directory to
    put on the import path. A half-extracted tree is never left at `dest`."""
    code = manifest.code
    if code is None:
        raise IntegrityError(f"{manifest.name}/{manifest.version} ships no code")
    digest, size = file_digest(zip_path)
    if size != code.size_bytes or digest != code.sha256:
        raise IntegrityError(
            f"{zip_path} (sha256 {digest[:12]}..., {size} bytes) does not match the manifest's "
            f"code.zip (sha256 {code.sha256[:12]}..., {code.size_bytes} bytes)",
            reason="sha256_mismatch",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():  # an earlier unpack: replaced by this verified one
        shutil.rmtree(dest)
    staging = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".code-"))
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = archive.infolist()
            _check_members(members, zip_path)
            archive.extractall(staging)
        os.replace(staging, dest)
    except zipfile.BadZipFile as exc:
        raise IntegrityError(
            f"{zip_path} is not a zip file: {exc}", reason="invalid_code_zip"
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def _check_members(members: list[zipfile.ZipInfo], zip_path: Path) -> None:
    total = 0
    for member in members:
        name = member.filename
        path = PurePosixPath(name.replace("\\", "/"))
        kind = member.external_attr >> 16
        if (
            path.is_absolute()
            or ".." in path.parts
            or (path.parts and ":" in path.parts[0])
            or (kind & 0o170000) == 0o120000  # a symlink could point anywhere
        ):
            raise IntegrityError(
                f"{zip_path} has an unsafe member path {name!r}", reason="unsafe_code_zip"
            )
        total += member.file_size
    if total > MAX_CODE_UNPACKED_BYTES:
        raise IntegrityError(
            f"{zip_path} unpacks to {total} bytes, more than {MAX_CODE_UNPACKED_BYTES}",
            reason="unsafe_code_zip",
        )


def check_schema(manifest: Manifest, estimator: Any) -> None:
    """The manifest's features, task and classes must be what the estimator was fitted on."""
    problems = []
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is not None and n_features != len(manifest.features):
        problems.append(
            f"the estimator takes {n_features} features, the manifest lists "
            f"{len(manifest.features)}"
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and [str(n) for n in fitted_names] != manifest.feature_names:
        problems.append("the estimator's feature names differ from the manifest's")
    if not callable(getattr(estimator, "predict", None)):
        problems.append("the estimator has no predict method")
    if manifest.task == "classification":
        classes = getattr(estimator, "classes_", None)
        if classes is None or not hasattr(estimator, "predict_proba"):
            problems.append("the manifest says classification, the estimator has no classes")
        elif [str(c) for c in classes] != [str(c) for c in manifest.classes or ()]:
            problems.append(
                f"classes {list(classes)} differ from the manifest's {list(manifest.classes or ())}"
            )
    if manifest.origin == "trained":
        problems.extend(_encoder_problems(manifest, estimator))
    if problems:
        raise IncompatibleModel(
            f"{manifest.name}/{manifest.version}: " + "; ".join(problems),
            reason="manifest_schema_mismatch",
        )


def _encoder_problems(manifest: Manifest, estimator: Any) -> list[str]:
    """For modelship-built pipelines, the one-hot levels must equal the allowed categories."""
    steps = getattr(estimator, "named_steps", {})
    transformer = steps.get("features") if hasattr(steps, "get") else None
    if transformer is None or not hasattr(transformer, "named_transformers_"):
        return []
    encoder = transformer.named_transformers_.get("categorical")
    if encoder is None or not hasattr(encoder, "categories_"):
        return []
    columns: list[int] = next(
        (cols for name, _, cols in transformer.transformers_ if name == "categorical"), []
    )
    problems = []
    for index, levels in zip(columns, encoder.categories_, strict=False):
        feature = (
            manifest.features[index]
            if isinstance(index, int) and index < len(manifest.features)
            else None
        )
        if feature is None or feature.kind != "categorical":
            problems.append(
                f"column {index} is one-hot encoded but not categorical in the manifest"
            )
        elif [str(v) for v in levels] != list(feature.categories or ()):
            problems.append(f"categories of {feature.name!r} differ from the manifest's")
    return problems
