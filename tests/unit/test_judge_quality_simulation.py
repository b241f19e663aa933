"""The judge-quality simulation (docs/performance.md figure 12) bins and counts as the judge's
real inputs do, so its figures are about the judge, not about the simulation."""

from __future__ import annotations

import numpy as np

from modelship.releases.canary_samples import EDGE_PERCENTILES, Histogram, shared_edges
from modelship.releases.verdict import VerdictPolicy
from tests.benchmarks.judge_quality import (
    BUSY,
    QUIET,
    SLOWER,
    TRANSIENT,
    binned,
    judge_canary,
    simulate_canary,
    threshold_alarm,
    window,
)


def test_the_fast_binning_is_histogram_of_values() -> None:
    rng = np.random.default_rng(0)
    values = np.round(rng.lognormal(1, 0.5, 3000), 2)
    edges = shared_edges(np.percentile(values[:100], EDGE_PERCENTILES), [1.5, 2.0, 3.0])
    # Values equal to an edge go to the bin the edge closes, in both.
    values = np.concatenate([values, np.asarray(edges)])

    assert binned(values, edges) == Histogram.of_values(values.tolist(), edges)


def test_a_window_holds_the_periods_before_its_end() -> None:
    rng = np.random.default_rng(1)
    stable, candidate = simulate_canary(rng, BUSY, SLOWER, periods=11, bake=300)

    canary = window(stable, candidate, 300)

    assert canary.candidate.requests == int(candidate.requests[:5].sum())
    assert canary.stable.errors == int(stable.errors[:5].sum())
    assert canary.candidate.latency is not None
    answered = canary.candidate.requests - canary.candidate.errors
    assert canary.candidate.latency.total == answered
    assert (canary.end - canary.start).total_seconds() == 300


def test_a_slow_busy_canary_fails_on_latency_at_the_bakes_end() -> None:
    rng = np.random.default_rng(2)
    stable, candidate = simulate_canary(rng, BUSY, SLOWER, periods=11, bake=300)

    judged = judge_canary(stable, candidate, 300, VerdictPolicy())

    assert (judged.outcome, judged.look, judged.seconds, judged.failed) == (
        "fail",
        0,
        300,
        ("latency",),
    )


def test_one_transient_error_trips_todays_alarm_but_not_the_guarded_one() -> None:
    rng = np.random.default_rng(3)
    stable, candidate = simulate_canary(rng, QUIET, TRANSIENT, periods=11, bake=300)

    assert candidate.errors[:5].sum() >= 1
    assert threshold_alarm(candidate, 300) is not None
    assert threshold_alarm(candidate, 300, min_requests=20) is None
    assert judge_canary(stable, candidate, 300, VerdictPolicy()).outcome == "inconclusive"
