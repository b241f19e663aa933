"""The artifact file: the fitted model dumped with joblib, or with skops (which runs no code
on load and trusts only the types it is told to)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import joblib

from modelship.digest import file_digest
from modelship.errors import PackagingError
from modelship.layer_runtime import LAYER_MODULES
from modelship.registry.manifest import ARTIFACT_FILES, ArtifactFormat, ArtifactInfo


def dump_artifact(
    model: Any, directory: Path, artifact_format: ArtifactFormat, code_modules: Iterable[str]
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
        trusted = trusted_skops_types(skops.io.get_untrusted_types(file=path), code_modules)
    sha256, size = file_digest(path)
    return ArtifactInfo(
        file=path.name,
        sha256=sha256,
        size_bytes=size,
        format=artifact_format,
        trusted_types=trusted,
    )


def trusted_skops_types(untrusted: Iterable[str], code_modules: Iterable[str]) -> tuple[str, ...]:
    """The types beyond skops' defaults that may be trusted: those of the layer's libraries and
    of the model's own code. Anything else (a library outside the layer, the standard library's
    callables, which could run anything) is refused by name."""
    allowed = set(LAYER_MODULES) | set(code_modules)
    types = sorted(set(untrusted))
    refused = [t for t in types if t.split(".")[0] not in allowed]
    if refused:
        raise PackagingError(
            f"the skops file needs types that cannot be trusted: {', '.join(refused)}; they "
            "belong neither to the layer's libraries nor to the model's --code modules",
            reason="untrusted_types",
        )
    return tuple(types)
