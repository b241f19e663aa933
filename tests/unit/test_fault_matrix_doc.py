"""docs/operations.md's fault matrix and tests/integration/test_fault_matrix.py stay in step:
every row names a test of the module, every test of the module has a row, and each row says
what the caller sees and what is left in S3 and on the alias."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operations.md"
MODULE = REPO / "tests" / "integration" / "test_fault_matrix.py"
HEADER = ["fault", "what the caller sees", "left in S3", "left on the alias", "test"]
# The faults issue 16 names; each must keep its row.
REQUIRED = {
    "test_s3_unavailable_at_cold_start",
    "test_sha256_mismatch",
    "test_truncated_download",
    "test_tmp_full",
    "test_scikit_learn_version_mismatch",
    "test_concurrent_publish_of_one_version",
    "test_concurrent_alias_change",
    "test_alarm_event_after_a_promotion",
    "test_stopped_rollout",
    "test_rollback_function_failing",
    "test_worker_crash_mid_request",
    "test_throttling",
    "test_a_state_machine_task_timing_out",
}
_TEST_NAME = re.compile(r"^`(test_\w+)`$")


def matrix_rows(text: str) -> list[list[str]]:
    """The cells of the table in the "## Fault matrix" section, header first."""
    section = text.split("\n## Fault matrix\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in lines]
    return [row for row in rows if not all(set(cell) <= {"-", " "} for cell in row)]


def module_tests(source: str) -> list[str]:
    tree = ast.parse(source)
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def test_every_row_names_a_test_of_the_module_and_every_test_has_a_row() -> None:
    header, *rows = matrix_rows(DOC.read_text())
    tests = module_tests(MODULE.read_text())

    assert header == HEADER
    named = []
    for row in rows:
        assert len(row) == len(HEADER), row
        match = _TEST_NAME.match(row[-1])
        assert match, f"the test cell of {row[0]!r} is not one `test_...` name: {row[-1]!r}"
        named.append(match[1])
        assert all(row[:-1]), f"the row of {row[0]!r} leaves a cell empty"
    assert sorted(named) == sorted(set(named)), "a test is named by two rows"
    assert set(named) == set(tests), (
        f"rows without a test: {sorted(set(named) - set(tests))}; "
        f"tests without a row: {sorted(set(tests) - set(named))}"
    )
    assert len(rows) >= 14
    assert set(named) >= REQUIRED


def test_the_check_notices_a_missing_row_and_a_missing_test() -> None:
    doc = (
        "\n## Fault matrix\n\n| " + " | ".join(HEADER) + " |\n| --- | --- | --- | --- | --- |\n"
        "| a | b | c | d | `test_a` |\n\n## Next\n"
    )
    source = "def test_a():\n    pass\n\ndef test_b():\n    pass\n\ndef helper():\n    pass\n"

    _, *rows = matrix_rows(doc)

    assert [row[-1] for row in rows] == ["`test_a`"]
    assert module_tests(source) == ["test_a", "test_b"]
