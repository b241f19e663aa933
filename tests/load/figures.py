"""What a load run measured: one record per request (written by the locustfile), split into
the phases of the release story, counted per model version, and the rule the run is held to:
no request fails except those the broken candidate answered."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.benchmarks.stats import percentile

OK_STATUS = 200
# The version of an answer without an X-Model-Version header (connection failed, gateway error).
NO_VERSION = "-"


@dataclass(frozen=True)
class Record:
    """One request: when it started (epoch seconds), how long it took, how it ended."""

    started: float
    ms: float
    status: int
    version: str
    rows: int

    @property
    def failed(self) -> bool:
        return self.status != OK_STATUS

    def to_json(self) -> str:
        return json.dumps(
            {"t": self.started, "ms": self.ms, "s": self.status, "v": self.version, "r": self.rows}
        )

    @classmethod
    def from_json(cls, line: str) -> Record:
        item = json.loads(line)
        return cls(float(item["t"]), float(item["ms"]), int(item["s"]), str(item["v"]), item["r"])


def read_records(path: Path) -> list[Record]:
    """The records of a run, oldest first; a line cut short by the load tool's exit is skipped."""
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(Record.from_json(line))
        except (ValueError, KeyError):
            continue
    return sorted(records, key=lambda record: record.started)


@dataclass(frozen=True)
class Phase:
    """A stretch of the run between two release actions: [start, end) in epoch seconds."""

    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


def phases(marks: Sequence[tuple[str, float]], end: float) -> list[Phase]:
    """Phases from (name, start) marks in order; each lasts until the next mark, the last
    until `end`."""
    if not marks:
        raise ValueError("a run has at least one phase")
    starts = [start for _, start in marks]
    if starts != sorted(starts) or end < starts[-1]:
        raise ValueError(f"phase marks out of order: {list(marks)}, end {end}")
    bounds = [*starts[1:], end]
    return [Phase(name, start, stop) for (name, start), stop in zip(marks, bounds, strict=True)]


@dataclass(frozen=True)
class Figure:
    """Throughput, latency and errors of one set of requests."""

    requests: int
    failures: int
    seconds: float
    p50_ms: float | None
    p99_ms: float | None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def of(cls, records: Sequence[Record], seconds: float) -> Figure:
        times = [record.ms for record in records]
        return cls(
            requests=len(records),
            failures=sum(record.failed for record in records),
            seconds=seconds,
            p50_ms=percentile(times, 50) if times else None,
            p99_ms=percentile(times, 99) if times else None,
        )


@dataclass(frozen=True)
class PhaseFigures:
    phase: Phase
    total: Figure
    by_version: dict[str, Figure]


def in_phase(records: Iterable[Record], phase: Phase) -> list[Record]:
    return [record for record in records if phase.start <= record.started < phase.end]


def phase_figures(records: Sequence[Record], run: Sequence[Phase]) -> list[PhaseFigures]:
    """Each phase's figures, over all its requests and per version that answered."""
    figures = []
    for phase in run:
        inside = in_phase(records, phase)
        versions = sorted({record.version for record in inside})
        figures.append(
            PhaseFigures(
                phase,
                Figure.of(inside, phase.seconds),
                {
                    version: Figure.of([r for r in inside if r.version == version], phase.seconds)
                    for version in versions
                },
            )
        )
    return figures


def version_figures(records: Sequence[Record], seconds: float) -> dict[str, Figure]:
    """The whole run's figures per version (throughput over the whole run)."""
    versions = sorted({record.version for record in records})
    return {
        version: Figure.of([r for r in records if r.version == version], seconds)
        for version in versions
    }


def peak_in_flight(records: Iterable[Record]) -> dict[str, int]:
    """Per version, the most requests it had in flight at once (from each request's start and
    duration): a version whose peak reaches its worker limit kept every worker busy."""
    events: dict[str, list[tuple[float, int]]] = {}
    for record in records:
        # An end sorts before a start at the same instant: back-to-back is not overlap.
        events.setdefault(record.version, []).extend(
            [(record.started, 1), (record.started + record.ms / 1000, -1)]
        )
    peaks = {}
    for version, changes in events.items():
        current = peak = 0
        for _, change in sorted(changes):
            current += change
            peak = max(peak, current)
        peaks[version] = peak
    return dict(sorted(peaks.items()))


def unexpected_failures(records: Iterable[Record], broken_version: str) -> list[Record]:
    """Failed requests not answered by the broken candidate: the run must have none."""
    return [record for record in records if record.failed and record.version != broken_version]


def describe_failures(failures: Sequence[Record]) -> str:
    """The failures by (version, status), for the message a failed run exits with."""
    counts: dict[tuple[str, int], int] = {}
    for record in failures:
        key = (record.version, record.status)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(
        f"{count} x {status or 'no answer'} from {version}"
        for (version, status), count in sorted(counts.items())
    )
