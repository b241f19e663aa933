"""Stage a Lambda function's code: its handler directory and the modelship modules it imports.

The modules are found by reading the source (`ast`), not by importing it: every `import` and
`from ... import` naming modelship, at any depth (function-level imports too), followed from
module to module, with the `__init__.py` of every package on the way. So the predict asset
carries serving, the registry and the shared names, and never the CLI, the emulator or
training, and a new module joins the assets that import it without a list to keep.
"""

from __future__ import annotations

import ast
import atexit
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from infra_cdk.settings import RetrainingSettingsError
from modelship import names
from modelship.layer_runtime import shadowing

REPO_ROOT = Path(__file__).resolve().parent.parent
LIBRARY = "modelship"
# Caches and editor droppings must not change the asset hash or ship to Lambda; nor may the
# IAM evaluator (modelship/local/iam/evaluator.mjs drives an AGPL npm package that runs only
# as a development-time Node process) or any node_modules.
_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", ".*", "*.mjs", "*.js", "node_modules"
)


def handler_file(root: Path) -> Path:
    module = names.PREDICT_HANDLER.rsplit(".", 1)[0]
    return root.joinpath(*module.split(".")).with_suffix(".py")


def stage_predict_source(root: Path = REPO_ROOT) -> Path:
    """The predict function's code: functions/predict/ and what it imports of modelship/."""
    if not handler_file(root).is_file():
        raise FileNotFoundError(
            f"predict handler {names.PREDICT_HANDLER} not found at {handler_file(root)}"
        )
    return stage_function_source(("predict",), root)


def stage_release_source(root: Path = REPO_ROOT) -> Path:
    """The release task and rollback functions share one asset."""
    return stage_function_source(("release", "rollback"), root)


def stage_monitor_source(root: Path = REPO_ROOT) -> Path:
    """The drift monitor function's code."""
    return stage_function_source(("monitor",), root)


def stage_retraining_source(
    root: Path = REPO_ROOT, training_code: str = "", entry_point: str = ""
) -> Path:
    """The retraining tasks and trigger share one asset; with `training_code` (cdk.json
    trainingCode, relative to the app) the user's Python files go in too, under
    training_code/ (names.TRAINING_CODE_DIR_NAME), where the Train task imports them from."""
    staging = stage_function_source(("retraining",), root)
    if training_code:
        stage_training_code(root / training_code, staging / names.TRAINING_CODE_DIR_NAME)
        if entry_point:
            check_entry_point_module(staging / names.TRAINING_CODE_DIR_NAME, entry_point)
    return staging


# The layer plus the predict function's code measure 222.5 MiB of the 230 MiB budget
# (`make layer`; Lambda's hard limit is 250 MB unzipped for code plus layers). The training
# functions share the layer, so the user's training code gets what is left, rounded down.
MAX_TRAINING_CODE_BYTES = 5 * 2**20


def stage_training_code(source: Path, target: Path) -> None:
    """Copies the Python files of the user's code directory (its modules and packages) to
    `target`; refuses a missing or empty directory and one whose top-level modules would
    shadow what the functions import (modelship.layer_runtime.shadowed_by: modelship, the
    layer's libraries, the standard library)."""
    if not source.is_dir():
        raise RetrainingSettingsError(f"trainingCode {source} is not a directory")
    problems = shadowing(source)
    if problems:
        raise RetrainingSettingsError(
            f"trainingCode {source} cannot be used: {'; '.join(problems)}: rename it"
        )
    files = [
        path
        for path in sorted(source.rglob("*.py"))
        if not any(
            part.startswith(".") or part in ("__pycache__", "node_modules")
            for part in path.relative_to(source).parts
        )
    ]
    if not files:
        raise RetrainingSettingsError(f"trainingCode {source} holds no Python files")
    size = sum(path.stat().st_size for path in files)
    if size > MAX_TRAINING_CODE_BYTES:
        raise RetrainingSettingsError(
            f"trainingCode {source} holds {size / 2**20:.1f} MiB of Python, more than the "
            f"{MAX_TRAINING_CODE_BYTES / 2**20:.0f} MiB the functions have beside the layer "
            "(Lambda's 250 MB unzipped covers function code plus layers)"
        )
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)


def check_entry_point_module(code_dir: Path, entry_point: str) -> None:
    """The entry point's module is one of the staged files (a module or a package)."""
    parts = entry_point.partition(":")[0].split(".")
    candidates = [Path(*parts).with_suffix(".py"), Path(*parts, "__init__.py")]
    if not any((code_dir / candidate).is_file() for candidate in candidates):
        raise RetrainingSettingsError(
            f"trainingEntryPoint {entry_point}: trainingCode has neither "
            f"{candidates[0]} nor {candidates[1]}"
        )


def stage_function_source(function_dirs: tuple[str, ...], root: Path = REPO_ROOT) -> Path:
    """Copy functions/__init__.py, the named functions/<dir>/ and the modelship modules they
    import into a fresh directory.

    CDK hashes and zips the directory it is given, so a narrow copy keeps tests, docs and
    virtualenvs out of the bundle and keeps the asset hash stable across unrelated edits.
    """
    staging = Path(tempfile.mkdtemp(prefix="modelship-code-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    (staging / "functions").mkdir()
    init = root / "functions" / "__init__.py"
    if init.is_file():
        shutil.copy2(init, staging / "functions" / "__init__.py")
    else:
        (staging / "functions" / "__init__.py").touch()
    entries: list[Path] = []
    for function_dir in function_dirs:
        source = root / "functions" / function_dir
        shutil.copytree(source, staging / "functions" / function_dir, ignore=_IGNORE)
        entries += sorted(source.rglob("*.py"))
    for module in library_closure(entries, root):
        target = staging / module
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / module, target)
    return staging


def library_closure(entries: Iterable[Path], root: Path = REPO_ROOT) -> list[Path]:
    """The modelship source files (relative to `root`) that `entries` import, directly or
    through each other, with the `__init__.py` of each package they are in."""
    found: set[Path] = set()
    pending = list(entries)
    while pending:
        for module in _imported_modules(pending.pop(), root):
            for path in _files_of(module, root):
                if path not in found:
                    found.add(path)
                    pending.append(root / path)
    return sorted(found)


def _imported_modules(source: Path, root: Path) -> set[str]:
    """Dotted names of the modelship modules `source` may import (each name a module or a
    package; `from package import name` also names `package.name`, which may be a module)."""
    tree = ast.parse(source.read_text(), filename=str(source))
    package = _package_of(source, root)
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base:
                modules.add(base)
                modules.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in modules if m == LIBRARY or m.startswith(f"{LIBRARY}.")}


def _package_of(source: Path, root: Path) -> str:
    try:
        parts = source.relative_to(root).with_suffix("").parts
    except ValueError:
        return ""
    return ".".join(parts if parts[-1] == "__init__" else parts[:-1]).removesuffix(".__init__")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    if node.level > 1:
        parts = parts[: 1 - node.level]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _files_of(module: str, root: Path) -> list[Path]:
    """The file that defines `module`, and the `__init__.py` of it and of every package above
    it; nothing when `module` names no file (an attribute such as a class or a constant)."""
    parts = module.split(".")
    as_module = Path(*parts).with_suffix(".py")
    as_package = Path(*parts, "__init__.py")
    if (root / as_package).is_file():
        own = as_package
    elif (root / as_module).is_file():
        own = as_module
    else:
        return []
    inits = [Path(*parts[:depth], "__init__.py") for depth in range(1, len(parts))]
    return [own, *(path for path in inits if (root / path).is_file())]
