"""modelship: ship scikit-learn models to AWS Lambda safely."""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "package"]


def __getattr__(name: str) -> Any:
    # `modelship.package` (modelship.packaging.packager.package) loads scikit-learn and pandas
    # only when asked for, and is named by a string, not an import statement: the Lambda
    # assets take the modules their handlers' import statements reach, and no handler packages.
    if name == "package":
        return import_module("modelship.packaging.packager").package
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
