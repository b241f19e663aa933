"""No module in modelship/ or infra_cdk/ grows past 400 lines: split it by idea instead."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_LINES = 400


def test_no_module_is_over_400_lines() -> None:
    too_long = {
        path.relative_to(REPO).as_posix(): lines
        for package in ("modelship", "infra_cdk")
        for path in sorted((REPO / package).rglob("*.py"))
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not too_long, f"split these by idea (lines): {too_long}"


def test_the_check_sees_the_packages() -> None:
    assert len(list((REPO / "modelship").rglob("*.py"))) > 50
    assert (REPO / "infra_cdk" / "app.py").is_file()
