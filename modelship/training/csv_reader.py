"""Reading a CSV file into a Table, streaming: a block of records at a time, so memory holds
the columns and one block, never the text of the whole file."""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from modelship.errors import DatasetError
from modelship.registry.manifest import FeatureKind
from modelship.training.tables import Table


def read_csv(
    source: Path | str | bytes,
    target: str,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
) -> Table:
    """Reads a CSV with a header row into column arrays, a block of records at a time: memory
    holds the columns (8 bytes per number, 4 per category code) and one block, never the
    text of the whole file.

    Column kinds are declared or inferred: numeric when every value is a plain ASCII decimal
    number (what `float` reads, without underscores or non-ASCII digits) and finite. Line
    endings may be LF, CRLF or CR. The target holds int64 labels when every value is a plain
    integer (`0`, `42`, `-3`: no sign `+`, no leading zero, no `_`, ASCII digits, within
    64 bits); a value `int()` would read but is not plain (`01`, `+1`, `1_0`, `-0`) is refused,
    so two spellings never become one label. Otherwise labels are text, kept as written.
    Every refusal is a DatasetError naming the line or column."""
    declared_cat, declared_num = set(categorical), set(numeric)
    with _open_text(source) as text:
        reader = csv.reader(text)
        records = _records(reader)
        first = next(records, None)
        if first is None:
            raise DatasetError("the CSV file is empty")
        header = [name.strip() for name in first]
        _check_header(header, target, declared_cat | declared_num)
        columns = [
            _Column(name, "categorical", is_target=True)
            if name == target
            else _Column(name, _declared_kind(name, declared_cat, declared_num))
            for name in header
        ]
        rows = 0
        for block in _blocks(records, len(header), source):
            for column, values in zip(columns, zip(*block, strict=True), strict=True):
                column.extend(values, rows, source)
            rows += len(block)
    if rows == 0:
        raise DatasetError("the CSV file has a header but no rows")
    pending = [column for column in columns if column.backfill_rows]
    if pending:
        _backfill(source, header, pending)
    kinds: dict[str, FeatureKind] = {c.name: c.kind for c in columns if c.name != target}
    arrays = {
        column.name: column.labels(source, header) if column.is_target else column.values()
        for column in columns
    }
    return Table(columns=arrays, kinds=kinds, target=target)


# Records parsed per block: bounds the text held at once (a few MB) whatever the file size.
BLOCK_ROWS = 8192
# A plain integer label: no sign +, no leading zero, no "-0", ASCII digits only.
_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]*")
_INT64 = (-(2**63), 2**63 - 1)


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's records; a malformed file is one DatasetError naming the line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise DatasetError(f"line {reader.line_num}: {exc}") from None
    except UnicodeDecodeError:
        raise DatasetError(f"the CSV is not UTF-8 text (after line {reader.line_num})") from None


def _blocks(
    records: Iterator[list[str]], width: int, source: Path | str | bytes
) -> Iterator[list[list[str]]]:
    """Blocks of non-blank records, each of `width` fields."""
    rows = 0
    while block := list(islice(records, BLOCK_ROWS)):
        if any(len(record) != width for record in block):
            block = [record for record in block if record]
            for index, record in enumerate(block):
                if len(record) != width:
                    raise DatasetError(
                        f"line {_line_of_row(source, rows + index)} has {len(record)} fields, "
                        f"the header has {width}"
                    )
        rows += len(block)
        if block:
            yield block


def _line_of_row(source: Path | str | bytes, row: int) -> int:
    """The line data row `row` (0-based, blank lines skipped) ends on, for messages: read
    again rather than tracked, so the common path keeps no line numbers."""
    with _open_text(source) as text:
        reader = csv.reader(text)
        next(reader)
        seen = -1
        for record in reader:
            seen += 1 if record else 0
            if seen == row:
                break
        return int(reader.line_num)


class _Column:
    """One column being read: numbers while every value is one, else category codes."""

    def __init__(self, name: str, declared: FeatureKind | None, is_target: bool = False) -> None:
        self.name = name
        self.declared = declared
        self.is_target = is_target
        self.numbers: array[float] | None = array("d") if declared != "categorical" else None
        self.codes = array("i")
        self.categories: dict[str, int] = {}
        # Rows read as numbers before a text value turned the column categorical.
        self.backfill_rows = 0

    @property
    def kind(self) -> FeatureKind:
        return "numeric" if self.numbers is not None else "categorical"

    def extend(self, values: Sequence[str], first_row: int, source: Path | str | bytes) -> None:
        """Appends one block's values; `first_row` (its first data row) places errors."""
        if self.numbers is not None:
            numbers = _plain_numbers(values)
            if numbers is not None:
                self.numbers.frombytes(numbers.tobytes())
                return
            if self.declared == "numeric":
                index = next(i for i, v in enumerate(values) if _plain_number(v.strip()) is None)
                value = values[index].strip()
                what = "is not a finite number" if _is_float(value) else f"holds {value[:40]!r}"
                line = _line_of_row(source, first_row + index)
                raise DatasetError(f"column {self.name!r} is numeric but line {line} {what}")
            self.backfill_rows = len(self.numbers)
            self.numbers = None
        stripped = list(map(str.strip, values))
        if "" in stripped:
            what = "the target column" if self.is_target else f"categorical column {self.name!r}"
            line = _line_of_row(source, first_row + stripped.index(""))
            raise DatasetError(f"{what} has empty values (line {line})")
        categories = self.categories
        for value in dict.fromkeys(stripped):
            categories.setdefault(value, len(categories))
        self.codes.extend(map(categories.__getitem__, stripped))

    def values(self) -> np.ndarray:
        if self.numbers is not None:
            numbers: np.ndarray = np.frombuffer(self.numbers, dtype=np.float64)
            return numbers
        return self._texts()

    def labels(self, source: Path | str | bytes, header: list[str]) -> np.ndarray:
        """The target: int64 when every label is a plain integer, else text."""
        if not all(_is_int(label) for label in self.categories):
            return self._texts()
        integers: list[int] = []
        for label in self.categories:
            number = int(label)
            if not _PLAIN_INT.fullmatch(label):
                line = _first_line(source, header.index(self.name), label)
                raise DatasetError(
                    f"target value {label[:40]!r} on line {line} is not a plain integer: write "
                    "integer labels as plain digits (0, 42, -3); to keep codes such as 01 as "
                    "text labels, give them a letter (c01)"
                )
            if not _INT64[0] <= number <= _INT64[1]:
                line = _first_line(source, header.index(self.name), label)
                raise DatasetError(
                    f"target value on line {line} is outside the 64-bit integer range"
                )
            integers.append(number)
        labels: np.ndarray = np.array(integers, dtype=np.int64)[self._code_array()]
        return labels

    def _texts(self) -> np.ndarray:
        texts = np.empty(len(self.categories), dtype=object)
        texts[:] = list(self.categories)
        column: np.ndarray = texts[self._code_array()]
        return column

    def _code_array(self) -> np.ndarray:
        codes: np.ndarray = np.frombuffer(self.codes, dtype=np.intc)
        return codes


def _plain_numbers(values: Sequence[str]) -> np.ndarray | None:
    """The values as float64 when every one is a plain, finite ASCII decimal number."""
    joined = "".join(values)
    if not joined.isascii() or "_" in joined:
        return None
    try:
        numbers = np.array(values, dtype=np.float64)
    except ValueError:
        return None
    return numbers if bool(np.isfinite(numbers).all()) else None


def _declared_kind(name: str, categorical: set[str], numeric: set[str]) -> FeatureKind | None:
    if name in numeric:
        return "numeric"
    return "categorical" if name in categorical else None


def _first_line(source: Path | str | bytes, position: int, value: str) -> int:
    """The line of the first record whose field at `position` is `value` (for messages)."""
    with _open_text(source) as text:
        reader = csv.reader(text)
        next(reader)
        for record in reader:
            if len(record) > position and record[position].strip() == value:
                return reader.line_num
    return 0


def _backfill(source: Path | str | bytes, header: list[str], pending: list[_Column]) -> None:
    """Second read, of the columns that turned categorical after their first rows: the text
    of those rows (only their numbers were kept)."""
    needed = max(column.backfill_rows for column in pending)
    positions = [header.index(column.name) for column in pending]
    prefixes = [_Column(column.name, "categorical") for column in pending]
    with _open_text(source) as text:
        records = _records(csv.reader(text))
        next(records)
        done = 0
        for block in _blocks(records, len(header), source):
            for column, prefix, position in zip(pending, prefixes, positions, strict=True):
                wanted = column.backfill_rows - done
                if wanted > 0:
                    prefix.extend([r[position] for r in block[:wanted]], done, source)
            done += len(block)
            if done >= needed:
                break
    for column, prefix in zip(pending, prefixes, strict=True):
        # The prefix's categories come first, then the column's own: renumber the latter.
        for value in column.categories:
            prefix.categories.setdefault(value, len(prefix.categories))
        remap = np.array([prefix.categories[v] for v in column.categories], dtype=np.intc)
        codes = np.concatenate([prefix._code_array(), remap[column._code_array()]])
        column.categories = prefix.categories
        column.codes = array("i", codes.astype(np.intc).tobytes())
        column.backfill_rows = 0


def _open_text(source: Path | str | bytes) -> TextIO:
    # newline="" lets the csv module read LF, CRLF and CR line endings alike.
    try:
        if isinstance(source, bytes):
            return io.TextIOWrapper(io.BytesIO(source), encoding="utf-8-sig", newline="")
        return Path(source).open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DatasetError(f"no such file: {source!s}") from None


def csv_header(source: Path | str | bytes) -> list[str]:
    """The column names of a CSV's header row (empty for an empty file)."""
    with _open_text(source) as text:
        first = next(_records(csv.reader(text)), None)
    return [name.strip() for name in first or []]


def _check_header(header: list[str], target: str, declared: set[str]) -> None:
    for position, name in enumerate(header, start=1):
        if name == "":
            raise DatasetError(f"column {position} of the CSV header has no name")
    if len(set(header)) != len(header):
        raise DatasetError("the CSV header has duplicate column names")
    if target not in header:
        raise DatasetError(f"target column {target!r} is not in the CSV header")
    unknown = declared - set(header)
    if unknown:
        raise DatasetError(f"declared columns not in the CSV: {sorted(unknown)}")


def _plain_number(value: str) -> float | None:
    """float(value) when value is a plain, finite ASCII decimal number, else None."""
    try:
        number = float(value)
    except ValueError:
        return None
    if not value.isascii() or "_" in value or not math.isfinite(number):
        return None
    return number


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _is_int(value: str) -> bool:
    try:
        int(value)
    except ValueError:
        return False
    return True
