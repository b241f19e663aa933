"""Tables: the column arrays training and evaluation work on, and writing one as CSV.

Tables are plain column arrays (no pandas) so the serving layer stays small: numeric
columns are float64, categorical columns are object arrays of str.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelship.errors import DatasetError
from modelship.registry.manifest import FeatureKind


@dataclass(frozen=True)
class Table:
    """Columns by name; `kinds` says which are numeric and which categorical."""

    columns: dict[str, np.ndarray]
    kinds: dict[str, FeatureKind]
    target: str

    def __post_init__(self) -> None:
        lengths = {len(values) for values in self.columns.values()}
        if len(lengths) > 1:
            raise DatasetError(f"columns have different lengths: {sorted(lengths)}")
        if self.target not in self.columns:
            raise DatasetError(f"target column {self.target!r} is missing")

    @property
    def feature_names(self) -> list[str]:
        return [name for name in self.columns if name != self.target]

    @property
    def n_rows(self) -> int:
        return len(self.columns[self.target])

    def features_matrix(self, rows: np.ndarray | None = None) -> np.ndarray:
        names = self.feature_names
        matrix = np.empty((self.n_rows, len(names)), dtype=object)
        for j, name in enumerate(names):
            matrix[:, j] = self.columns[name]
        return matrix if rows is None else matrix[rows]

    def target_values(self) -> np.ndarray:
        return self.columns[self.target]

    def records(self, limit: int | None = None) -> list[dict[str, object]]:
        """Rows as JSON-ready dicts of the features (what a client would send)."""
        count = self.n_rows if limit is None else min(limit, self.n_rows)
        out = []
        for i in range(count):
            row: dict[str, object] = {}
            for name in self.feature_names:
                value = self.columns[name][i]
                row[name] = value if self.kinds[name] == "categorical" else _json_number(value)
            out.append(row)
        return out


def _json_number(value: object) -> float | int:
    number = float(value)  # type: ignore[arg-type]
    return int(number) if number.is_integer() else number


def write_csv(table: Table, path: Path) -> None:
    names = [*table.feature_names, table.target]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        for i in range(table.n_rows):
            writer.writerow([_csv_value(table.columns[n][i]) for n in names])


def table_to_csv_bytes(table: Table) -> bytes:
    buffer = io.StringIO()
    names = [*table.feature_names, table.target]
    writer = csv.writer(buffer)
    writer.writerow(names)
    for i in range(table.n_rows):
        writer.writerow([_csv_value(table.columns[n][i]) for n in names])
    return buffer.getvalue().encode()


def _csv_value(value: object) -> str:
    if isinstance(value, float | np.floating):
        return str(_json_number(value))
    return str(value)
