"""`make load`'s bookkeeping (tests/load): requests split by phase and version, the rule the
run is held to, and its section of docs/performance.md kept by `make bench`. Locust itself
never runs here (importing it patches the standard library for gevent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.load.figures import (
    Figure,
    Record,
    describe_failures,
    peak_in_flight,
    phase_figures,
    phases,
    read_records,
    unexpected_failures,
    version_figures,
)
from tests.load.section import END, START, carried_over, load_block, with_block


def record(started: float, version: str, status: int = 200, ms: float = 10.0) -> Record:
    return Record(started=started, ms=ms, status=status, version=version, rows=1)


def test_records_round_trip_and_a_cut_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    later, earlier = record(2.0, "v2", 503, 7.5), record(1.0, "v1")
    path.write_text(later.to_json() + "\n" + earlier.to_json() + "\n" + '{"t": 3.0, "ms"')
    assert read_records(path) == [earlier, later]


def test_phases_run_from_mark_to_mark_and_the_last_to_the_end() -> None:
    run = phases([("a", 0.0), ("b", 10.0), ("c", 25.0)], 30.0)
    assert [(p.name, p.start, p.end) for p in run] == [
        ("a", 0.0, 10.0),
        ("b", 10.0, 25.0),
        ("c", 25.0, 30.0),
    ]
    assert run[1].seconds == 15.0


@pytest.mark.parametrize(
    ("marks", "end"), [([], 1.0), ([("a", 5.0), ("b", 1.0)], 9.0), ([("a", 5.0)], 4.0)]
)
def test_phase_marks_out_of_order_are_refused(marks: list[tuple[str, float]], end: float) -> None:
    with pytest.raises(ValueError, match="phase"):
        phases(marks, end)


def test_each_request_counts_in_the_phase_it_started_in_by_the_version_that_answered() -> None:
    records = [
        record(0.5, "v1", ms=10),
        record(9.99, "v1", ms=30),
        record(10.0, "v1", ms=20),
        record(12.0, "v2", ms=40),
        record(15.0, "v2", 503, ms=50),
    ]
    first, second = phase_figures(records, phases([("stable", 0.0), ("canary", 10.0)], 20.0))
    assert (first.total.requests, first.total.failures) == (2, 0)
    assert set(first.by_version) == {"v1"}
    assert first.total.per_second == pytest.approx(0.2)
    assert first.total.p50_ms == pytest.approx(20.0)
    assert second.by_version["v1"] == Figure(1, 0, 10.0, 20.0, 20.0)
    assert (second.by_version["v2"].requests, second.by_version["v2"].failures) == (2, 1)
    assert second.by_version["v2"].p99_ms == pytest.approx(49.9)


def test_a_phase_without_requests_has_no_latency() -> None:
    (empty,) = phase_figures([record(50.0, "v1")], phases([("quiet", 0.0)], 10.0))
    assert (empty.total.requests, empty.total.p50_ms, empty.total.p99_ms) == (0, None, None)
    assert empty.by_version == {}


def test_version_figures_cover_the_whole_stretch() -> None:
    figures = version_figures([record(1.0, "v1"), record(2.0, "v1"), record(3.0, "v2")], 4.0)
    assert figures["v1"].per_second == 0.5
    assert figures["v2"].requests == 1


def test_only_the_broken_candidates_failures_are_allowed() -> None:
    records = [
        record(1.0, "v1"),
        record(2.0, "v3-broken", 503),
        record(3.0, "v2", 500),
        record(4.0, "-", 0),
        record(5.0, "-", 502),
        record(6.0, "v2", 500),
    ]
    unexpected = unexpected_failures(records, "v3-broken")
    assert [r.started for r in unexpected] == [3.0, 4.0, 5.0, 6.0]
    assert describe_failures(unexpected) == (
        "1 x no answer from -, 1 x 502 from -, 2 x 500 from v2"
    )
    assert unexpected_failures(records[:2], "v3-broken") == []


def test_a_client_error_is_a_failure_too() -> None:
    assert unexpected_failures([record(1.0, "v1", 422)], "v3-broken") == [record(1.0, "v1", 422)]


def test_peak_in_flight_counts_overlapping_requests_per_version() -> None:
    records = [
        record(0.0, "v1", ms=1000),
        record(0.5, "v1", ms=1000),
        record(0.9, "v1", ms=50),
        record(1.0, "v1", ms=10),  # starts as the first ends: not overlapping it
        record(0.0, "v2", ms=10),
        record(5.0, "v2", ms=10),
    ]
    assert peak_in_flight(records) == {"v1": 3, "v2": 1}


def test_the_load_block_replaces_the_previous_one_or_is_appended() -> None:
    block = f"{START}\n## 14. new\n{END}"
    doc = f"# Performance\n\n## 13. x\n\n{START}\n## 14. old\n{END}\n\ntail\n"
    assert with_block(doc, block) == f"# Performance\n\n## 13. x\n\n{block}\n\ntail\n"
    assert with_block("# Performance\n\n## 13. x\n", block) == (
        f"# Performance\n\n## 13. x\n\n{block}\n"
    )
    with pytest.raises(ValueError, match="load block"):
        with_block(doc, "## 14. no markers")


def test_make_bench_keeps_the_load_block_of_the_file_it_regenerates() -> None:
    previous = f"# old\n\n{START}\n## 14. measured\n{END}\n"
    rendered = "# Performance\n\n## 13. fresh\n"
    kept = carried_over(rendered, previous)
    assert load_block(kept) == f"{START}\n## 14. measured\n{END}"
    assert kept.startswith(rendered.rstrip("\n"))
    assert carried_over(rendered, "# no load block yet\n") == rendered
    assert load_block(f"{START} but no end") is None
