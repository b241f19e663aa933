"""Stage a Lambda function's code: only what its handler needs, never the repository."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from modelship import names

REPO_ROOT = Path(__file__).resolve().parent.parent
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
    """The predict function's code: functions/predict/ and modelship/."""
    if not handler_file(root).is_file():
        raise FileNotFoundError(
            f"predict handler {names.PREDICT_HANDLER} not found at {handler_file(root)}"
        )
    return stage_function_source(("predict",), root)


def stage_release_source(root: Path = REPO_ROOT) -> Path:
    """The release task and rollback functions share one asset."""
    return stage_function_source(("release", "rollback"), root)


def stage_retraining_source(root: Path = REPO_ROOT) -> Path:
    """The retraining tasks and trigger share one asset."""
    return stage_function_source(("retraining",), root)


def stage_function_source(function_dirs: tuple[str, ...], root: Path = REPO_ROOT) -> Path:
    """Copy functions/__init__.py, the named functions/<dir>/ and modelship/ into a fresh
    directory.

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
    for function_dir in function_dirs:
        shutil.copytree(
            root / "functions" / function_dir, staging / "functions" / function_dir, ignore=_IGNORE
        )
    shutil.copytree(root / "modelship", staging / "modelship", ignore=_IGNORE)
    return staging
