"""modelship.layer_runtime describes the layer `make layer` builds from layers/requirements.txt."""

from __future__ import annotations

import ast
import sys
from importlib.metadata import PackageNotFoundError, PackagePath, distribution
from pathlib import Path

import pytest

from infra_cdk.layer_recipe import LAYER_REQUIREMENTS, pinned_versions
from modelship import layer_runtime
from modelship.layer_runtime import (
    LAYER_MODULES,
    LAYER_PINS,
    MODULE_DISTRIBUTIONS,
    layer_distribution,
    layer_version,
    shadowed_by,
)


def top_level_modules(files: list[PackagePath]) -> set[str]:
    """Importable top-level names among a distribution's installed files (its RECORD)."""
    found = set()
    for file in files:
        head = file.parts[0]
        if len(file.parts) > 1:
            # A package directory; not scripts (..), metadata, vendored *.libs or *-stubs.
            if head.isidentifier() and head != "__pycache__":
                found.add(head)
        elif file.suffix in {".py", ".so", ".pyd"}:
            name = head.split(".", 1)[0]
            if name.isidentifier() and name != "__init__":
                found.add(name)
    return found


def installed_modules() -> dict[str, str]:
    """Top-level module -> distribution, for every pinned distribution installed here."""
    modules: dict[str, str] = {}
    for name in LAYER_PINS:
        for module in top_level_modules(list(distribution(name).files or [])):
            modules[module] = name
    return modules


def test_layer_pins_are_the_recipe() -> None:
    recipe = pinned_versions(LAYER_REQUIREMENTS)
    requirement_lines = [
        line
        for line in LAYER_REQUIREMENTS.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]

    assert len(recipe) == len(requirement_lines), "every recipe line pins one version with =="
    assert recipe == LAYER_PINS


def test_every_pinned_distribution_is_installed_here_at_its_pin() -> None:
    versions = {}
    for name in LAYER_PINS:
        try:
            versions[name] = distribution(name).version
        except PackageNotFoundError:
            versions[name] = None

    assert versions == LAYER_PINS


def test_layer_modules_are_what_the_pinned_distributions_install() -> None:
    installed = installed_modules()

    assert {"sklearn", "pandas", "dateutil", "skops", "typing_extensions"} <= set(installed)
    missing = sorted(set(installed) - LAYER_MODULES)
    assert not missing, f"add to MODULE_DISTRIBUTIONS in modelship/layer_runtime.py: {missing}"
    assert installed == MODULE_DISTRIBUTIONS
    assert frozenset(MODULE_DISTRIBUTIONS) == LAYER_MODULES


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["sklearn/__init__.py", "scikit_learn-1.9.1.dist-info/RECORD"], {"sklearn"}),
        (["numpy/__init__.py", "numpy.libs/libgfortran.so.5", "../../bin/f2py"], {"numpy"}),
        (["six.py", "__pycache__/six.cpython-311.pyc"], {"six"}),
        (["wrapt/__init__.py", "wrapt-stubs/__init__.pyi"], {"wrapt"}),
        (["_cffi_backend.cpython-311-x86_64-linux-gnu.so", "README.md"], {"_cffi_backend"}),
    ],
)
def test_top_level_modules_keeps_importable_names_only(
    files: list[str], expected: set[str]
) -> None:
    assert top_level_modules([PackagePath(f) for f in files]) == expected


def test_layer_version_accepts_any_spelling_of_a_distribution() -> None:
    assert layer_version("scikit-learn") == LAYER_PINS["scikit-learn"]
    assert layer_version("Scikit_Learn") == LAYER_PINS["scikit-learn"]
    assert layer_version("pandas") == "3.1.1"
    assert layer_version("tensorflow") is None


def test_layer_distribution_names_who_provides_a_module() -> None:
    assert layer_distribution("sklearn.pipeline") == "scikit-learn"
    assert layer_distribution("dateutil") == "python-dateutil"
    assert layer_distribution("xgboost") is None
    assert "os" not in LAYER_MODULES


def test_layer_runtime_imports_the_standard_library_only() -> None:
    tree = ast.parse(Path(layer_runtime.__file__).read_text())
    imported = {
        name.split(".", 1)[0]
        for node in ast.walk(tree)
        for name in (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
    }

    assert imported
    assert imported - {"__future__"} <= sys.stdlib_module_names


def test_shadowed_by_names_what_a_users_module_would_replace() -> None:
    assert shadowed_by("modelship") == "modelship's own package 'modelship'"
    assert shadowed_by("functions") == "modelship's own package 'functions'"
    assert shadowed_by("sklearn") == "the module 'sklearn' of scikit-learn, which modelship runs on"
    assert shadowed_by("json") == "the standard library's module 'json'"
    assert shadowed_by("churn_features") is None
