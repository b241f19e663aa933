"""Packaging: a scikit-learn model fitted elsewhere (a notebook, the user's own training code)
made into the model directory `models publish` takes (`packager`). The sample's rows give the
schema (`sample_schema`); the model is described (`description`), its pickle's modules and
library versions checked against the predict function's layer (`dependencies`), its own code
zipped (`code_bundle`), the artifact dumped (`artifact_file`) and loaded back and compared on
the sample before anything is written (`smoke_check`); `input_files` reads what
`models package` is given. Imported on first use: it needs scikit-learn and pandas.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelship.packaging.packager import package, package_file

_MODULE_OF = {"package": "packager", "package_file": "packager"}

__all__ = ["package", "package_file"]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
