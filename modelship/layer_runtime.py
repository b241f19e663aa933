"""What the predict function's dependency layer provides: pinned distributions and modules.

`layers/requirements.txt` is the recipe `make layer` builds; this module restates it for code
that must know what a model may use when it is served (packaging refuses libraries outside the
layer and models fitted with other versions), including code running where the recipe file
does not exist. Standard library only, so every layer of modelship can import it.
tests/unit/test_layer_runtime.py fails when the recipe and LAYER_PINS disagree, or when a
pinned distribution installs a top-level module MODULE_DISTRIBUTIONS does not name.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Final

# Distribution name (normalized: lower case, runs of "-", "_", "." as one "-") -> version.
LAYER_PINS: Final[dict[str, str]] = {
    "aws-lambda-powertools": "3.37.0",
    "aws-xray-sdk": "2.15.0",
    "wrapt": "2.5.2",
    "boto3": "1.44.8",
    "botocore": "1.44.8",
    "s3transfer": "0.19.3",
    "jmespath": "1.1.0",
    "python-dateutil": "2.9.0.post0",
    "six": "1.17.0",
    "urllib3": "2.8.0",
    "scikit-learn": "1.9.1",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "joblib": "1.6.0",
    "threadpoolctl": "3.8.0",
    "cloudpickle": "3.1.3",
    "narwhals": "2.29.0",
    "pydantic": "2.14.4",
    "pydantic-core": "2.50.5",
    "annotated-types": "0.8.0",
    "typing-inspection": "0.4.5",
    "typing-extensions": "4.16.0",
    "pandas": "3.1.1",
    "skops": "0.16.0",
    "packaging": "26.4",
    "prettytable": "3.18.0",
    "wcwidth": "0.9.4",
}

# Top-level import name -> the pinned distribution that installs it.
MODULE_DISTRIBUTIONS: Final[dict[str, str]] = {
    "aws_lambda_powertools": "aws-lambda-powertools",
    "aws_xray_sdk": "aws-xray-sdk",
    "wrapt": "wrapt",
    "boto3": "boto3",
    "botocore": "botocore",
    "s3transfer": "s3transfer",
    "jmespath": "jmespath",
    "dateutil": "python-dateutil",
    "six": "six",
    "urllib3": "urllib3",
    "sklearn": "scikit-learn",
    "numpy": "numpy",
    "scipy": "scipy",
    "joblib": "joblib",
    "threadpoolctl": "threadpoolctl",
    "cloudpickle": "cloudpickle",
    "narwhals": "narwhals",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "annotated_types": "annotated-types",
    "typing_inspection": "typing-inspection",
    "typing_extensions": "typing-extensions",
    "pandas": "pandas",
    "skops": "skops",
    "packaging": "packaging",
    "prettytable": "prettytable",
    "wcwidth": "wcwidth",
}

# The top-level import names the layer provides (the standard library aside).
LAYER_MODULES: Final[frozenset[str]] = frozenset(MODULE_DISTRIBUTIONS)

# The functions' own top-level packages, beside the layer in every Lambda asset.
ASSET_PACKAGES: Final[frozenset[str]] = frozenset({"modelship", "functions"})


def shadowed_by(module: str) -> str | None:
    """What a user's top-level module named `module` would shadow where modelship runs it
    (the functions' own packages, the layer's libraries, the standard library), or None when
    the name is free. The user's code goes first on the import path, so such a module would
    replace the one the runtime imports."""
    if module in ASSET_PACKAGES:
        return f"modelship's own package {module!r}"
    if module in LAYER_MODULES:
        return f"the module {module!r} of {MODULE_DISTRIBUTIONS[module]}, which modelship runs on"
    if module in sys.stdlib_module_names:
        return f"the standard library's module {module!r}"
    return None


def code_modules(code_dir: Path) -> list[Path]:
    """The top-level modules (`name.py`, `_helpers.py` too) and packages (directories holding
    Python files) of a directory of user code: what goes on the import path."""
    return sorted(
        path
        for path in code_dir.iterdir()
        if not path.name.startswith(".")
        and path.name != "__pycache__"
        and (
            (path.is_file() and path.suffix == ".py") or (path.is_dir() and any(path.rglob("*.py")))
        )
    )


def shadowing(code_dir: Path) -> list[str]:
    """For each top-level module of the user's code that would shadow what the runtime
    imports, `<file> would shadow <what>` (see shadowed_by)."""
    return [
        f"{path.name} would shadow {shadowed}"
        for path in code_modules(code_dir)
        if (shadowed := shadowed_by(path.stem if path.is_file() else path.name))
    ]


def normalize_distribution(name: str) -> str:
    """A distribution name as LAYER_PINS keys it (PEP 503): "Scikit_Learn" -> "scikit-learn"."""
    return re.sub(r"[-_.]+", "-", name).lower()


def layer_version(distribution: str) -> str | None:
    """The version the layer pins for `distribution` (any spelling), None when it is absent."""
    return LAYER_PINS.get(normalize_distribution(distribution))


def layer_distribution(module: str) -> str | None:
    """The layer distribution that provides `module` ("sklearn.pipeline" -> "scikit-learn"),
    None when the layer has no such top-level module."""
    return MODULE_DISTRIBUTIONS.get(module.partition(".")[0])
