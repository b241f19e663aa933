"""code.zip: the model's own modules, deterministic, without caches; bad paths refused."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from modelship.errors import PackagingError
from modelship.packaging.code_bundle import code_source, write_code_zip


def _project(root: Path) -> tuple[Path, Path]:
    module = root / "shop_features.py"
    module.write_text("VALUE = 1\n")
    package = root / "shop_pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "vocab.json").write_text("[]")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (package / ".secret").write_text("no")
    return module, package


def test_modules_and_packages_are_zipped_without_caches_or_hidden_files(tmp_path: Path) -> None:
    module, package = _project(tmp_path)

    info = write_code_zip(code_source([module, package]), tmp_path / "code.zip")

    assert info.modules == ("shop_features", "shop_pkg")
    with zipfile.ZipFile(tmp_path / "code.zip") as archive:
        assert archive.namelist() == [
            "shop_features.py",
            "shop_pkg/__init__.py",
            "shop_pkg/sub/__init__.py",
            "shop_pkg/sub/vocab.json",
        ]
    assert info.size_bytes == (tmp_path / "code.zip").stat().st_size


def test_the_same_code_gives_the_same_sha256(tmp_path: Path) -> None:
    module, package = _project(tmp_path)
    first = write_code_zip(code_source([package, module]), tmp_path / "one.zip")
    time.sleep(1.1)  # a zip that recorded mtimes would now differ
    module.touch()

    second = write_code_zip(code_source([module, package]), tmp_path / "two.zip")

    assert first.sha256 == second.sha256


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("notes.txt", "not a Python module"),
        ("missing.py", "does not exist"),
        ("json.py", "would shadow the standard library's module 'json'"),
        ("functions.py", "would shadow modelship's own package 'functions'"),
        ("modelship", "would shadow modelship's own package 'modelship'"),
        ("numpy.py", "would shadow the module 'numpy' of numpy"),
        ("pandas.py", "would shadow the module 'pandas' of pandas"),
        ("sklearn", "would shadow the module 'sklearn' of scikit-learn"),
        ("my-code.py", "'my-code' is not a module name"),
        ("empty_dir", "no Python modules"),
    ],
)
def test_paths_that_cannot_ship_as_code_are_refused(
    tmp_path: Path, name: str, problem: str
) -> None:
    path = tmp_path / name
    if name == "empty_dir":
        path.mkdir()
    elif "." not in name:  # a package directory
        path.mkdir()
        (path / "__init__.py").write_text("")
    elif name != "missing.py":
        path.write_text("")

    with pytest.raises(PackagingError, match=problem) as raised:
        code_source([path])

    assert raised.value.reason == "invalid_code"


def test_two_paths_providing_one_module_are_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "feats").mkdir(parents=True)
    (tmp_path / "a" / "feats.py").write_text("")
    (tmp_path / "b" / "feats" / "__init__.py").write_text("")

    with pytest.raises(PackagingError, match="both provide the module 'feats'"):
        code_source([tmp_path / "a" / "feats.py", tmp_path / "b" / "feats"])
