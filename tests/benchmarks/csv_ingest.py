"""Peak memory of CSV ingestion per MB of CSV: what bounds the dataset size Prepare accepts.

Each measurement runs in a fresh process: it imports modelship.training.csv_reader and numpy, notes
its RSS, parses a churn-shaped CSV of the given size and reports its peak RSS (VmHWM) above that
baseline. "streaming" is `read_csv` from a file, as Prepare reads a dataset; "whole text" is
the parse it replaced (the object's bytes, decoded, every row as lists of str), measured in
the same run as the baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from modelship.training.churn import generate_churn
from modelship.training.tables import table_to_csv_bytes

MIB = 1024 * 1024

_PROBE = """
import csv, io, json, sys, time
from pathlib import Path
import numpy as np
from modelship.training.csv_reader import read_csv

def status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0

def whole_text(path):
    # The parse before streaming (kept here as the baseline): the object's bytes, their
    # decoded text, every row as a list of str, then the column arrays.
    body = path.read_bytes()
    text = body.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader)]
    raw = {name: [] for name in header}
    for record in reader:
        for name, value in zip(header, record):
            raw[name].append(value.strip())
    columns = {}
    for name, values in raw.items():
        try:
            columns[name] = np.array([float(v) for v in values])
        except ValueError:
            columns[name] = np.array(values, dtype=object)
    return len(raw[header[0]])

path, how = Path(sys.argv[1]), sys.argv[2]
baseline = status_kib("VmRSS")
started = time.perf_counter()
rows = read_csv(path, target="churned").n_rows if how == "streaming" else whole_text(path)
seconds = time.perf_counter() - started
peak = status_kib("VmHWM")
print(json.dumps({"rows": rows, "peak_kib": peak - baseline, "seconds": seconds}))
"""
PARSERS = ("streaming", "whole text")


@dataclass(frozen=True)
class CsvIngest:
    parser: str
    csv_bytes: int
    rows: int
    peak_bytes: int
    seconds: float

    @property
    def peak_per_mb(self) -> float:
        """MB of peak memory per MB of CSV."""
        return self.peak_bytes / self.csv_bytes

    @property
    def mb_per_second(self) -> float:
        return self.csv_bytes / MIB / self.seconds


def churn_csv(path: Path, megabytes: float) -> Path:
    """A churn-shaped CSV of about `megabytes` MiB (the reference table, repeated)."""
    block = table_to_csv_bytes(generate_churn(n_rows=20_000))
    header, _, rows = block.partition(b"\n")
    repeats = max(1, round(megabytes * MIB / len(rows)))
    with path.open("wb") as out:
        out.write(header + b"\n")
        for _ in range(repeats):
            out.write(rows)
    return path


def measure_csv_ingest(workdir: Path, sizes_mb: tuple[float, ...] = (25, 100)) -> list[CsvIngest]:
    """Both parsers on each size, each in a fresh process."""
    workdir.mkdir(parents=True, exist_ok=True)
    figures = []
    for size in sizes_mb:
        path = churn_csv(workdir / f"churn-{size:g}mb.csv", size)
        for parser in PARSERS:
            done = subprocess.run(
                [sys.executable, "-c", _PROBE, str(path), parser.split()[0]],
                check=True,
                capture_output=True,
                text=True,
            )
            measured = json.loads(done.stdout.strip().splitlines()[-1])
            figures.append(
                CsvIngest(
                    parser=parser,
                    csv_bytes=path.stat().st_size,
                    rows=int(measured["rows"]),
                    peak_bytes=int(measured["peak_kib"]) * 1024,
                    seconds=float(measured["seconds"]),
                )
            )
        path.unlink()
    return figures


if __name__ == "__main__":
    for figure in measure_csv_ingest(Path("/tmp/bench-work/csv")):
        print(
            f"{figure.parser}: {figure.csv_bytes / MIB:.0f} MiB, {figure.rows} rows: peak "
            f"{figure.peak_bytes / MIB:.0f} MiB = {figure.peak_per_mb:.1f} MB per MB, "
            f"{figure.mb_per_second:.1f} MB/s"
        )
