"""The model's own code (`--code PATH`: module files or package directories) as code.zip.

The zip is deterministic (sorted entries, fixed timestamps and permissions), so the same code
gives the same sha256 in the manifest. A package directory ships whole (its data files too,
which code may read beside itself) but without caches, compiled files or hidden entries.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from modelship.digest import file_digest
from modelship.errors import PackagingError
from modelship.layer_runtime import shadowed_by
from modelship.registry.manifest import CodeInfo

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class CodeSource:
    """Where each shipped top-level module comes from."""

    paths: tuple[Path, ...]
    modules: tuple[str, ...]


def code_source(paths: Iterable[Path | str]) -> CodeSource:
    """Checks the paths and names the top-level modules they provide."""
    resolved: list[Path] = []
    modules: dict[str, Path] = {}
    for given in paths:
        path = Path(given).resolve()
        if path.is_file():
            if path.suffix != ".py":
                raise _invalid(f"{given} is not a Python module (.py) or a package directory")
            module = path.stem
        elif path.is_dir():
            if not any(path.rglob("*.py")):
                raise _invalid(f"{given} is a directory with no Python modules")
            module = path.name
        else:
            raise _invalid(f"{given} does not exist")
        if not module.isidentifier():
            raise _invalid(f"{given} cannot be imported: {module!r} is not a module name")
        shadowed = shadowed_by(module)
        if shadowed:
            raise _invalid(f"{given} would shadow {shadowed}; rename it")
        if module in modules:
            raise _invalid(f"{given} and {modules[module]} both provide the module {module!r}")
        modules[module] = path
        resolved.append(path)
    return CodeSource(tuple(resolved), tuple(sorted(modules)))


def write_code_zip(source: CodeSource, destination: Path) -> CodeInfo:
    """Writes code.zip and describes it for the manifest."""
    entries: dict[str, Path] = {}
    for path in source.paths:
        if path.is_file():
            entries[path.name] = path
            continue
        for member in path.rglob("*"):
            relative = member.relative_to(path.parent)
            if member.is_file() and not _skipped(relative):
                entries[relative.as_posix()] = member
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permission bits below mean the same everywhere
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name].read_bytes())
    sha256, size = file_digest(destination)
    return CodeInfo(sha256=sha256, size_bytes=size, modules=source.modules)


def _skipped(relative: Path) -> bool:
    return (
        any(part == "__pycache__" or part.startswith(".") for part in relative.parts)
        or relative.suffix in _SKIPPED_SUFFIXES
    )


def _invalid(message: str) -> PackagingError:
    return PackagingError(message, reason="invalid_code")
