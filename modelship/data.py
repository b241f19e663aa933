"""Tabular data: the reference churn dataset and CSV tables with a declared target.

Tables are plain column arrays (no pandas) so the serving layer stays small: numeric
columns are float64, categorical columns are object arrays of str.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelship.errors import DatasetError
from modelship.manifest import FeatureKind

CHURN_TARGET = "churned"
CHURN_FEATURES: dict[str, FeatureKind] = {
    "tenure_months": "numeric",
    "monthly_charges": "numeric",
    "total_charges": "numeric",
    "support_calls": "numeric",
    "num_products": "numeric",
    "senior_citizen": "numeric",
    "contract": "categorical",
    "payment_method": "categorical",
    "internet_service": "categorical",
    "paperless_billing": "categorical",
}
CONTRACTS = ("month_to_month", "one_year", "two_year")
PAYMENT_METHODS = ("electronic_check", "mailed_check", "bank_transfer", "credit_card")
INTERNET_SERVICES = ("dsl", "fiber_optic", "none")


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


def generate_churn(n_rows: int = 6000, seed: int = 7, drift: float = 0.0) -> Table:
    """Synthetic customer-churn table, identical for the same arguments.

    `drift` in [0, 1] shifts the population (pricier plans, more month-to-month contracts,
    more support calls) and weakens the tenure effect, so a model trained on drift=0 ages.
    """
    if n_rows < 10:
        raise DatasetError("n_rows must be at least 10")
    if not 0.0 <= drift <= 1.0:
        raise DatasetError("drift must be between 0 and 1")
    rng = np.random.default_rng(seed)
    contract = rng.choice(
        CONTRACTS, size=n_rows, p=_mix((0.55, 0.25, 0.20), (0.75, 0.15, 0.10), drift)
    )
    payment = rng.choice(PAYMENT_METHODS, size=n_rows, p=(0.34, 0.22, 0.22, 0.22))
    internet = rng.choice(INTERNET_SERVICES, size=n_rows, p=(0.34, 0.44, 0.22))
    paperless = rng.choice(("yes", "no"), size=n_rows, p=(0.6, 0.4))
    senior = (rng.random(n_rows) < 0.16).astype(float)

    tenure_scale = np.where(
        contract == "two_year", 40.0, np.where(contract == "one_year", 28.0, 14.0)
    )
    tenure = np.clip(np.round(rng.exponential(tenure_scale)), 0, 72)
    base_charge = np.where(internet == "fiber_optic", 85.0, np.where(internet == "dsl", 58.0, 24.0))
    monthly = np.clip(base_charge + rng.normal(0.0, 12.0, n_rows) + 15.0 * drift, 18.0, 120.0)
    monthly = np.round(monthly, 2)
    total = np.round(monthly * tenure * rng.uniform(0.95, 1.05, n_rows), 2)
    support_calls = np.clip(rng.poisson(1.4 + 1.2 * drift, n_rows), 0, 10).astype(float)
    products = np.clip(rng.poisson(1.6, n_rows) + 1, 1, 6).astype(float)

    tenure_effect = 0.07 * (1.0 - 0.6 * drift)
    logit = (
        -0.6
        + 1.7 * (contract == "month_to_month")
        - 1.1 * (contract == "two_year")
        - tenure_effect * tenure
        + 0.025 * (monthly - 65.0)
        + 0.55 * support_calls
        + 0.8 * (internet == "fiber_optic")
        + 0.7 * (payment == "electronic_check")
        + 0.4 * (paperless == "yes")
        + 0.5 * senior
        - 0.35 * products
    )
    churned = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)

    columns: dict[str, np.ndarray] = {
        "tenure_months": tenure,
        "monthly_charges": monthly,
        "total_charges": total,
        "support_calls": support_calls,
        "num_products": products,
        "senior_citizen": senior,
        "contract": contract.astype(object),
        "payment_method": payment.astype(object),
        "internet_service": internet.astype(object),
        "paperless_billing": paperless.astype(object),
        CHURN_TARGET: churned,
    }
    return Table(columns=columns, kinds=dict(CHURN_FEATURES), target=CHURN_TARGET)


def _mix(base: Sequence[float], drifted: Sequence[float], drift: float) -> list[float]:
    mixed = [(1 - drift) * b + drift * d for b, d in zip(base, drifted, strict=True)]
    total = sum(mixed)
    return [m / total for m in mixed]


def read_csv(
    source: Path | str | bytes,
    target: str,
    categorical: Iterable[str] = (),
    numeric: Iterable[str] = (),
) -> Table:
    """Reads a CSV with a header row. Column kinds are declared or inferred (numeric when every
    value parses as a finite number). The target keeps ints as ints, other labels as str."""
    text = _read_text(source)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise DatasetError("the CSV file is empty") from None
    if len(set(header)) != len(header):
        raise DatasetError("the CSV header has duplicate column names")
    if target not in header:
        raise DatasetError(f"target column {target!r} is not in the CSV header")
    declared_cat, declared_num = set(categorical), set(numeric)
    unknown = (declared_cat | declared_num) - set(header)
    if unknown:
        raise DatasetError(f"declared columns not in the CSV: {sorted(unknown)}")
    raw: dict[str, list[str]] = {name: [] for name in header}
    for line_no, record in enumerate(reader, start=2):
        if not record:
            continue
        if len(record) != len(header):
            raise DatasetError(
                f"line {line_no} has {len(record)} fields, the header has {len(header)}"
            )
        for name, value in zip(header, record, strict=True):
            raw[name].append(value.strip())
    if not raw[target]:
        raise DatasetError("the CSV file has a header but no rows")
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, FeatureKind] = {}
    for name in header:
        values = raw[name]
        if name == target:
            columns[name] = _target_column(values)
            continue
        if name in declared_num or (name not in declared_cat and _all_numeric(values)):
            columns[name] = _numeric_column(name, values)
            kinds[name] = "numeric"
        else:
            if any(v == "" for v in values):
                raise DatasetError(f"categorical column {name!r} has empty values")
            columns[name] = np.array(values, dtype=object)
            kinds[name] = "categorical"
    return Table(columns=columns, kinds=kinds, target=target)


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


def _read_text(source: Path | str | bytes) -> str:
    try:
        if isinstance(source, bytes):
            return source.decode("utf-8-sig")
        return Path(source).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"the CSV is not UTF-8 text (byte {exc.start})") from None
    except FileNotFoundError:
        raise DatasetError(f"no such file: {source!s}") from None


def _all_numeric(values: list[str]) -> bool:
    for value in values:
        try:
            if not math.isfinite(float(value)):
                return False
        except ValueError:
            return False
    return True


def _numeric_column(name: str, values: list[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=float)
    for i, value in enumerate(values):
        try:
            out[i] = float(value)
        except ValueError:
            raise DatasetError(
                f"column {name!r} is numeric but row {i + 1} holds {value[:40]!r}"
            ) from None
        if not math.isfinite(out[i]):
            raise DatasetError(f"column {name!r} row {i + 1} is not a finite number")
    return out


def _target_column(values: list[str]) -> np.ndarray:
    if any(v == "" for v in values):
        raise DatasetError("the target column has empty values")
    try:
        ints = [int(v) for v in values]
    except ValueError:
        return np.array(values, dtype=object)
    return np.array(ints, dtype=np.int64)
