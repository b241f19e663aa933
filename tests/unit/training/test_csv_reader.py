"""CSV files a user may upload: malformed ones fail with one line naming the line or column;
nothing is silently converted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelship.errors import DatasetError
from modelship.training.churn import generate_churn
from modelship.training.csv_reader import read_csv
from modelship.training.tables import table_to_csv_bytes


def _csv(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "data.csv"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return path


def test_a_field_longer_than_the_csv_limit_names_its_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, f"a,churned\n1,0\n{'9' * 131_073},1\n")

    with pytest.raises(DatasetError, match=r"line 3: .*field larger than field limit"):
        read_csv(path, target="churned")


def test_cr_only_line_endings_read_as_lines(tmp_path: Path) -> None:
    table = generate_churn(n_rows=50)
    lf = table_to_csv_bytes(table).replace(b"\r\n", b"\n")

    from_cr = read_csv(_csv(tmp_path, lf.replace(b"\n", b"\r")), target="churned")

    assert from_cr.n_rows == 50
    assert from_cr.kinds == table.kinds
    assert np.allclose(from_cr.columns["monthly_charges"], table.columns["monthly_charges"])
    assert list(from_cr.columns["churned"]) == list(table.columns["churned"])


def test_cr_only_bytes_read_as_lines() -> None:
    table = read_csv(b"a,b,churned\r1,x,0\r2,y,1\r", target="churned")

    assert table.n_rows == 2
    assert list(table.columns["b"]) == ["x", "y"]


def test_a_target_above_int64_names_its_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, "a,churned\n1,0\n2,9223372036854775808\n")

    with pytest.raises(DatasetError, match=r"line 3.*64-bit"):
        read_csv(path, target="churned")


@pytest.mark.parametrize("header", ["a,,churned", "a, ,churned"])
def test_an_empty_header_name_names_its_column(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path, f"{header}\n1,2,0\n")

    with pytest.raises(DatasetError, match=r"column 2 .*no name"):
        read_csv(path, target="churned")


@pytest.mark.parametrize("label", ["01", "+1", "1_0", "\u0661", "-0"])
def test_non_canonical_integer_labels_are_refused(tmp_path: Path, label: str) -> None:
    path = _csv(tmp_path, f"a,churned\n1,0\n2,1\n3,{label}\n")

    with pytest.raises(DatasetError, match=r"line 4") as refused:
        read_csv(path, target="churned")

    assert "\n" not in str(refused.value)


def test_canonical_integer_labels_are_int64_and_text_labels_stay_text(tmp_path: Path) -> None:
    ints = read_csv(_csv(tmp_path, "a,churned\n1,0\n2,-3\n3,42\n"), target="churned")
    texts = read_csv(_csv(tmp_path, "a,churned\n1,01\n2,abc\n3,1_0\n"), target="churned")

    assert ints.columns["churned"].dtype == np.int64
    assert list(ints.columns["churned"]) == [0, -3, 42]
    assert list(texts.columns["churned"]) == ["01", "abc", "1_0"]


def test_numbers_python_would_bend_are_not_numbers(tmp_path: Path) -> None:
    # float() reads "1_0" as 10.0 and Arabic-Indic digits as digits: here they are text.
    table = read_csv(_csv(tmp_path, "a,b,churned\n1_0,1.5,0\n\u0661,2,1\n"), target="churned")

    assert table.kinds == {"a": "categorical", "b": "numeric"}
    assert list(table.columns["a"]) == ["1_0", "\u0661"]
    with pytest.raises(DatasetError, match=r"column 'a' is numeric but line 2"):
        read_csv(_csv(tmp_path, "a,churned\n1_0,0\n"), target="churned", numeric=["a"])


def test_a_column_that_turns_out_categorical_keeps_its_exact_text(tmp_path: Path) -> None:
    table = read_csv(_csv(tmp_path, "a,churned\n1.50,0\n2,1\nthree,0\n"), target="churned")

    assert table.kinds == {"a": "categorical"}
    assert list(table.columns["a"]) == ["1.50", "2", "three"]


def test_text_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = _csv(tmp_path, b"a,churned\n1,0\n\xff\xfe,1\n")

    with pytest.raises(DatasetError, match="not UTF-8"):
        read_csv(path, target="churned")
