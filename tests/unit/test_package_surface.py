"""Each domain package names its public surface in `__all__`, and importing a light module of
a package does not drag in scikit-learn through the package's re-exports."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "modelship.registry",
    "modelship.serving",
    "modelship.training",
    "modelship.packaging",
    "modelship.retraining",
    "modelship.monitoring",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)

    assert "TODO" not in (module.__doc__ or "TODO")
    for name in module.__all__:
        assert getattr(module, name) is not None, name


@pytest.mark.parametrize(
    "package",
    ["modelship.training", "modelship.packaging", "modelship.retraining", "modelship.monitoring"],
)
def test_a_lazily_exported_name_is_listed_once(package: str) -> None:
    module = importlib.import_module(package)

    assert set(module.__all__) == set(module._MODULE_OF)
    with pytest.raises(AttributeError):
        _ = module.no_such_name


def test_the_trigger_function_and_the_cli_do_not_import_scikit_learn() -> None:
    code = (
        "import sys, modelship.retraining.trigger, modelship.retraining.settings, "
        "modelship.training.csv_reader, modelship.cli.commands.retraining; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )

    assert result.stdout.strip() == "[]"
