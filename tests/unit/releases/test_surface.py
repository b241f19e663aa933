"""The releases package's public surface (`modelship.releases.__all__`)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import modelship.releases as releases


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    # Once imported, a submodule is an attribute of the package: no public name may be one.
    for module in pkgutil.iter_modules(releases.__path__):
        importlib.import_module(f"modelship.releases.{module.name}")
    for name in releases.__all__:
        value = getattr(releases, name)
        assert getattr(value, "__name__", name) == name, name


def test_importing_the_package_loads_none_of_its_modules() -> None:
    """The CDK app goes through `modelship.releases` to the stdlib-only plan module."""
    code = (
        "import sys, modelship.releases\n"
        "print(sorted(m for m in sys.modules if m.startswith('modelship.releases.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
