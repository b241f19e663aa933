"""What a model's pickle needs at load time, and whether the predict function has it.

The pickle is walked (written to nowhere) by a Pickler that records the module of every
class, function and instance type it stores. Each top-level module must be the standard
library, a library of the dependency layer at a compatible version, or the user's own code
shipped with `--code`. modelship's own modules are refused too: the model's runtime contract
is the layer plus its code, and modelship's modules move between releases.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from modelship.errors import PackagingError
from modelship.layer_runtime import LAYER_MODULES, layer_distribution, layer_version
from modelship.registry.manifest import ArtifactFormat, RuntimeInfo

# RuntimeInfo's library fields are top-level module names (sklearn, numpy, ...).
_LIBRARIES = tuple(f for f in RuntimeInfo.model_fields if f != "python")
_SITE_DIRS = {"site-packages", "dist-packages"}


@dataclass(frozen=True)
class PickleReferences:
    """Top-level module -> the qualified names the pickle refers to in it."""

    names: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(self.names)


class _Nowhere:
    def write(self, data: bytes | pickle.PickleBuffer) -> int:
        # Protocol 5 hands large buffers (numpy arrays past a frame) over as PickleBuffer.
        return memoryview(data).nbytes


class _ReferenceRecorder(pickle.Pickler):
    def __init__(self) -> None:
        super().__init__(_Nowhere(), protocol=pickle.HIGHEST_PROTOCOL)
        self.seen: dict[str, set[str]] = {}

    def reducer_override(self, obj: Any) -> Any:
        # Classes and functions (Python, builtin or compiled) carry their own __qualname__ and
        # are pickled by reference to their module; anything else is an instance of its type.
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(qualname, str):
            module, name = getattr(obj, "__module__", None), qualname
        else:
            module, name = type(obj).__module__, type(obj).__qualname__
        if module:
            self.seen.setdefault(module.split(".")[0], set()).add(f"{module}.{name}")
        return NotImplemented  # pickle it as usual: only the references matter


def pickle_references(model: Any) -> PickleReferences:
    recorder = _ReferenceRecorder()
    try:
        recorder.dump(model)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise PackagingError(
            f"the model cannot be pickled: {type(exc).__name__}: {exc}; define every class and "
            "function it holds at the top level of a module (no lambdas or local classes) and "
            "pass that module with --code",
            reason="not_picklable",
        ) from None
    return PickleReferences({m: frozenset(n) for m, n in recorder.seen.items()})


def check_modules(references: PickleReferences, code_modules: Iterable[str]) -> None:
    """Refuses a pickle that needs a module the predict function will not have, naming it and
    what to do, in order: classes in __main__, libraries outside the layer, missing modules."""
    shipped = set(code_modules)
    in_main = sorted(references.names.get("__main__", ()))
    libraries: dict[str, str] = {}
    missing: list[str] = []
    for module in sorted(references.modules - shipped - {"__main__"}):
        if module in sys.stdlib_module_names or module in LAYER_MODULES:
            continue
        if module == "modelship":
            missing.append(module)
            continue
        distribution = _distribution_of(module)
        if distribution:
            libraries[module] = distribution
        else:
            missing.append(module)
    if in_main:
        shown = ", ".join(name.removeprefix("__main__.") for name in in_main)
        raise PackagingError(
            f"the model uses {shown}, defined in __main__ (a script or notebook): move "
            f"{'it' if len(in_main) == 1 else 'them'} into a module, import from there, "
            "re-fit, and pass the module with --code",
            reason="defined_in_main",
        )
    if libraries:
        shown = ", ".join(
            f"{module} (distribution {dist})" if dist != module else module
            for module, dist in sorted(libraries.items())
        )
        raise PackagingError(
            f"the model needs {shown}, which the predict function's layer does not provide "
            f"(it has {', '.join(sorted(LAYER_MODULES))}); use the layer's libraries, or if it "
            "is your own code, pass it with --code",
            reason="library_not_in_layer",
        )
    if missing:
        shown = "; ".join(
            f"{module} ({', '.join(sorted(references.names[module]))})" for module in missing
        )
        raise PackagingError(
            f"the model needs modules the predict function lacks: {shown}; pass the module "
            "file or package directory with --code PATH",
            reason="missing_module",
        )


def check_versions(
    running: RuntimeInfo, references: PickleReferences, artifact_format: ArtifactFormat
) -> None:
    """The environment the model lives in against the layer's pins, for the libraries the
    artifact needs at load time: scikit-learn must be the same release (its pickles are
    only supported by the version that wrote them); numpy, scipy, pandas and joblib the same
    major.minor (their pickled internals move between minor releases)."""
    needed = references.modules | {"sklearn"}
    if artifact_format == "joblib":
        needed |= {"joblib"}
    problems: list[tuple[str, str, str]] = []
    for module in _LIBRARIES:
        have = getattr(running, module)
        distribution = layer_distribution(module) or module
        pinned = layer_version(distribution)
        if module not in needed or have is None or pinned is None:
            continue
        same = have == pinned if module == "sklearn" else _minor(have) == _minor(pinned)
        if not same:
            problems.append((distribution, have, pinned))
    if problems:
        built = ", ".join(
            f"{dist} {have} (the layer has {pinned})" for dist, have, pinned in problems
        )
        pins = " ".join(f"{dist}=={pinned}" for dist, _, pinned in problems)
        raise PackagingError(
            f"the model was built with {built}; re-fit it, or load and re-save it, with the "
            f"layer's versions (pip install {pins})",
            reason="version_mismatch",
        )


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def _distribution_of(module: str) -> str | None:
    """The installed distribution that provides `module`, if any: the library the user has
    and the layer does not (a module lying beside the notebook is not one)."""
    distributions = metadata.packages_distributions().get(module)
    if distributions:
        return sorted(distributions)[0]
    loaded = sys.modules.get(module)
    location = getattr(loaded, "__file__", None)
    if location and _SITE_DIRS & set(Path(location).parts):
        return module
    return None
