"""Stage the predict function's code: only what the handler imports, never the repository."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from modelship import names

REPO_ROOT = Path(__file__).resolve().parent.parent
# Caches and editor droppings must not change the asset hash or ship to Lambda.
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", ".*")


def handler_file(root: Path) -> Path:
    module = names.PREDICT_HANDLER.rsplit(".", 1)[0]
    return root.joinpath(*module.split(".")).with_suffix(".py")


def stage_predict_source(root: Path = REPO_ROOT) -> Path:
    """Copy functions/__init__.py, functions/predict/ and modelship/ into a fresh directory.

    CDK hashes and zips the directory it is given, so a narrow copy keeps tests, docs and
    virtualenvs out of the bundle and keeps the asset hash stable across unrelated edits.
    """
    if not handler_file(root).is_file():
        raise FileNotFoundError(
            f"predict handler {names.PREDICT_HANDLER} not found at {handler_file(root)}"
        )
    staging = Path(tempfile.mkdtemp(prefix="modelship-predict-"))
    atexit.register(shutil.rmtree, staging, ignore_errors=True)
    (staging / "functions").mkdir()
    init = root / "functions" / "__init__.py"
    if init.is_file():
        shutil.copy2(init, staging / "functions" / "__init__.py")
    else:
        (staging / "functions" / "__init__.py").touch()
    shutil.copytree(
        root / "functions" / "predict", staging / "functions" / "predict", ignore=_IGNORE
    )
    shutil.copytree(root / "modelship", staging / "modelship", ignore=_IGNORE)
    return staging
