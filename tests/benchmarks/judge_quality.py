"""Figure 12: the canary judge's quality over simulated canaries, against today's threshold
alarms on the same simulated traffic.

Each canary is 60 s periods of Poisson traffic split by the alias weight; every request fails
with its side's error rate, and each answered request has a lognormal model latency and one
prediction score (a classifier answering one row). The judge (`modelship.releases.verdict`)
sees what the CloudWatch reader gives it: counts over [step start, look), and latencies binned
on the union of both sides' EDGE_PERCENTILES (`canary_samples.shared_edges`), scores on the
fixed SCORE_EDGES. It judges at the bake's end, and after each extension while inconclusive;
a final inconclusive rolls back under the default policy. The threshold alarms are the
canary's two guardrails (`modelship.releases.canary_alarms`), evaluated on every period of
the bake: error rate above DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT of the candidate's requests,
or p99 model latency above DEFAULT_GUARDRAIL_P99_LATENCY_MS. Seeded: any machine gives these
numbers.

    .venv/bin/python -m tests.benchmarks.judge_quality [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import numpy as np

from modelship import names
from modelship.releases.canary_samples import (
    EDGE_PERCENTILES,
    SCORE_EDGES,
    CanaryWindow,
    Histogram,
    SideSample,
    shared_edges,
)
from modelship.releases.verdict import VerdictPolicy, judge
from tests.benchmarks.machine import describe_machine

COMMAND = ".venv/bin/python -m tests.benchmarks.judge_quality"
PERIOD = names.DEFAULT_GUARDRAIL_PERIOD_SECONDS
EXTENSION = names.DEFAULT_VERDICT_EXTENSION_SECONDS
STABLE_ERROR_RATE = 0.005
# The reference model's warm handler: p50 about 3.5 ms, p99 about 13 ms (figure 1).
LATENCY_MEDIAN_MS = 3.5
LATENCY_SIGMA = 0.55
SCORE_BETA = (5.0, 2.0)
FALSE_ROLLBACK_TARGET = 0.01
DETECTION_TARGET = 0.95
START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Traffic:
    requests_per_second: float
    weight: float
    bakes: tuple[int, ...]  # seconds

    @property
    def label(self) -> str:
        return f"{self.weight:.0%} of {self.requests_per_second:g} req/s"


@dataclass(frozen=True)
class Scenario:
    name: str
    error_rate: float = STABLE_ERROR_RATE
    slower: float = 1.0
    transient_errors: int = 0

    @property
    def healthy(self) -> bool:
        return self.error_rate <= STABLE_ERROR_RATE and self.slower <= 1.0


HEALTHY = Scenario("healthy (same errors and latency)")
MORE_ERRORS = Scenario("2 points more errors (2.5% vs 0.5%)", error_rate=STABLE_ERROR_RATE + 0.02)
SLOWER = Scenario("50% slower", slower=1.5)
TRANSIENT = Scenario("healthy + one transient error", transient_errors=1)

# The case: plan `5:5m,...` at 100 requests per second, and a shorter bake.
BUSY = Traffic(100, 0.05, (300, 120))
# The demo's case: a 1% canary on a few requests per second; and the bake it takes to reach
# the judge's minimum of requests there.
QUIET = Traffic(5, 0.01, (300, 2400))
CASES = [
    (BUSY, [HEALTHY, MORE_ERRORS, SLOWER]),
    (QUIET, [HEALTHY, TRANSIENT, MORE_ERRORS, SLOWER]),
]


@dataclass(frozen=True)
class Side:
    """One side's periods: requests and errors per period; the answered requests' latencies
    and scores in period order, `ends[p]` = how many of them are in periods 0..p."""

    requests: np.ndarray
    errors: np.ndarray
    latency: np.ndarray
    scores: np.ndarray
    ends: np.ndarray

    def sample(self, version: str, periods: int) -> tuple[SideSample, np.ndarray]:
        """The side over its first `periods` periods, latency not yet binned; and the raw
        latencies, from which the bin edges come."""
        answered = int(self.ends[periods - 1])
        side = SideSample(
            version,
            int(self.requests[:periods].sum()),
            int(self.errors[:periods].sum()),
            scores=binned(self.scores[:answered], SCORE_EDGES),
        )
        return side, self.latency[:answered]

    def period_latency(self, period: int) -> np.ndarray:
        start = int(self.ends[period - 1]) if period else 0
        return self.latency[start : int(self.ends[period])]


def binned(values: np.ndarray, edges: tuple[float, ...]) -> Histogram:
    """`Histogram.of_values(values, edges)`, vectorized: searchsorted's side="left" is the
    bisect_left of_values uses, so a value equal to an edge is in the bin the edge closes."""
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    counts = np.bincount(index, minlength=len(edges) + 1).astype(float)
    return Histogram(edges, tuple(counts.tolist()))


def simulate_side(
    rng: np.random.Generator, requests: np.ndarray, error_rate: float, slower: float
) -> Side:
    errors = rng.binomial(requests, error_rate)
    answered = requests - errors
    total = int(answered.sum())
    latency = rng.lognormal(np.log(LATENCY_MEDIAN_MS * slower), LATENCY_SIGMA, total)
    scores = rng.beta(*SCORE_BETA, total)
    return Side(requests, errors, latency, scores, np.cumsum(answered))


def simulate_canary(
    rng: np.random.Generator, traffic: Traffic, scenario: Scenario, periods: int, bake: int
) -> tuple[Side, Side]:
    offered = rng.poisson(traffic.requests_per_second * PERIOD, periods)
    candidate_requests = rng.binomial(offered, traffic.weight)
    stable = simulate_side(rng, offered - candidate_requests, STABLE_ERROR_RATE, 1.0)
    candidate = simulate_side(rng, candidate_requests, scenario.error_rate, scenario.slower)
    for _ in range(scenario.transient_errors):
        # One answered request of the bake fails instead (its latency value stays: one of
        # hundreds, it changes nothing).
        answered = candidate.requests[: bake // PERIOD] - candidate.errors[: bake // PERIOD]
        with_answers = np.flatnonzero(answered)
        if with_answers.size:
            candidate.errors[rng.choice(with_answers)] += 1
    return stable, candidate


def window(stable: Side, candidate: Side, seconds: int) -> CanaryWindow:
    """What the CloudWatch reader gives the judge for [step start, step start + seconds)."""
    periods = seconds // PERIOD
    sides = [stable.sample("v1", periods), candidate.sample("v2", periods)]
    edges = shared_edges(*(np.percentile(raw, EDGE_PERCENTILES) for _, raw in sides if raw.size))
    s, c = (replace(side, latency=binned(raw, edges)) for side, raw in sides)
    return CanaryWindow(START, START + timedelta(seconds=seconds), s, c)


@dataclass(frozen=True)
class Judged:
    outcome: str  # of the last look
    look: int
    seconds: int
    failed: tuple[str, ...]


def judge_canary(stable: Side, candidate: Side, bake: int, policy: VerdictPolicy) -> Judged:
    """The rollout's looks: at the bake's end, then after each extension while inconclusive."""
    for look in range(policy.max_extensions + 1):
        seconds = bake + look * EXTENSION
        verdict = judge(window(stable, candidate, seconds), policy, look=look)
        if verdict.outcome != "inconclusive" or verdict.final:
            failed = tuple(c.name for c in verdict.checks if c.outcome == "fail")
            return Judged(verdict.outcome, look, seconds, failed)
    raise AssertionError("the last look is final")


def threshold_alarm(candidate: Side, bake: int, min_requests: int = 1) -> tuple[int, str] | None:
    """The first period of the bake in which a canary guardrail alarm crosses its threshold
    (end of that period, which alarm), or None. Today's error-rate alarm judges every period
    with a request; `min_requests` judges only periods with that many, as the alias-wide
    alarms do (infra_cdk/guardrails.py)."""
    for period in range(bake // PERIOD):
        requests = int(candidate.requests[period])
        if requests >= min_requests and 100 * candidate.errors[period] / requests > (
            names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT
        ):
            return (period + 1) * PERIOD, "error rate"
        latency = candidate.period_latency(period)
        if latency.size and np.percentile(latency, 99) > names.DEFAULT_GUARDRAIL_P99_LATENCY_MS:
            return (period + 1) * PERIOD, "p99 latency"
    return None


@dataclass
class Row:
    traffic: Traffic
    scenario: Scenario
    bake: int
    canaries: int = 0
    candidate_requests: list[int] = field(default_factory=list)
    judged: list[Judged] = field(default_factory=list)
    alarms: list[tuple[int, str]] = field(default_factory=list)
    guarded_alarms: int = 0

    def judge_rollbacks(self, policy: VerdictPolicy) -> list[Judged]:
        inconclusive_rolls_back = policy.on_inconclusive == "rollback"
        return [
            j
            for j in self.judged
            if j.outcome == "fail" or (j.outcome == "inconclusive" and inconclusive_rolls_back)
        ]

    def count(self, outcome: str) -> int:
        return sum(1 for j in self.judged if j.outcome == outcome)


@dataclass(frozen=True)
class JudgeQualityFigure:
    rows: list[Row]
    policy: VerdictPolicy
    seconds: float


def measure_judge_quality(
    quick: bool = False, policy: VerdictPolicy | None = None
) -> JudgeQualityFigure:
    started = time.monotonic()
    policy = policy or VerdictPolicy()
    canaries = 100 if quick else 1000
    rows: list[Row] = []
    for case, (traffic, scenarios) in enumerate(CASES):
        longest = max(traffic.bakes) + policy.max_extensions * EXTENSION
        for number, scenario in enumerate(scenarios):
            case_rows = {bake: Row(traffic, scenario, bake) for bake in traffic.bakes}
            rng = np.random.default_rng([12, case, number])
            for _ in range(canaries):
                stable, candidate = simulate_canary(
                    rng, traffic, scenario, longest // PERIOD, min(traffic.bakes)
                )
                for bake, row in case_rows.items():
                    row.canaries += 1
                    row.candidate_requests.append(int(candidate.requests[: bake // PERIOD].sum()))
                    row.judged.append(judge_canary(stable, candidate, bake, policy))
                    alarm = threshold_alarm(candidate, bake)
                    if alarm is not None:
                        row.alarms.append(alarm)
                    guarded = threshold_alarm(candidate, bake, names.DEFAULT_GUARDRAIL_MIN_REQUESTS)
                    row.guarded_alarms += guarded is not None
            rows.extend(case_rows.values())
    return JudgeQualityFigure(rows, policy, time.monotonic() - started)


def _percent(count: int, total: int) -> str:
    return f"{count / total:.1%}" if total else "-"


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min"


def _median_time(seconds: list[int]) -> str:
    return _duration(statistics.median(seconds)) if seconds else "-"


def _judge_cells(row: Row, policy: VerdictPolicy) -> list[str]:
    rolled = row.judge_rollbacks(policy)
    looks = Counter(j.look for j in rolled)
    looks_text = ", ".join(f"{looks[n]} at look {n}" for n in sorted(looks))
    checks = Counter(name for j in rolled for name in j.failed)
    named = ", ".join(f"{name} {count}" for name, count in checks.most_common())
    return [
        f"{_percent(row.count('fail'), row.canaries)} / "
        f"{_percent(row.count('inconclusive'), row.canaries)}",
        f"**{_percent(len(rolled), row.canaries)}**",
        f"{_median_time([j.seconds for j in rolled])} ({looks_text or '-'})"
        + (f"; failed: {named}" if named else ""),
    ]


def _alarm_cells(row: Row) -> list[str]:
    kinds = Counter(kind for _, kind in row.alarms)
    named = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
    return [
        f"**{_percent(len(row.alarms), row.canaries)}**" + (f" ({named})" if named else ""),
        _median_time([seconds for seconds, _ in row.alarms]),
        _percent(row.guarded_alarms, row.canaries),
    ]


def judge_quality_table(figure: JudgeQualityFigure) -> str:
    header = [
        "traffic, bake",
        "candidate",
        "candidate requests in the bake (median)",
        "judge: fail / inconclusive at the last look",
        "judge rolls back",
        "judge: time to rollback, median (rollbacks at each look); checks failed",
        "threshold alarms roll back (which)",
        "time to alarm, median",
        f"error alarm judging periods with {names.DEFAULT_GUARDRAIL_MIN_REQUESTS}+ requests",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in figure.rows:
        cells = [
            f"{row.traffic.label}, {_duration(row.bake)}",
            row.scenario.name,
            f"{statistics.median(row.candidate_requests):g}",
            *_judge_cells(row, figure.policy),
            *_alarm_cells(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _row(figure: JudgeQualityFigure, traffic: Traffic, scenario: Scenario, bake: int) -> Row:
    return next(
        r for r in figure.rows if (r.traffic, r.scenario, r.bake) == (traffic, scenario, bake)
    )


def targets(figure: JudgeQualityFigure) -> list[tuple[str, float, bool]]:
    """The issue's targets at 5% of 100 requests per second over the plan's 5 minute bake."""
    bake = max(BUSY.bakes)
    rates = {
        s: len(_row(figure, BUSY, s, bake).judge_rollbacks(figure.policy)) / figure_canaries(figure)
        for s in (HEALTHY, MORE_ERRORS, SLOWER)
    }
    return [
        (
            "false rollbacks of a healthy candidate",
            rates[HEALTHY],
            rates[HEALTHY] <= FALSE_ROLLBACK_TARGET,
        ),
        (
            "detection of 2 points more errors",
            rates[MORE_ERRORS],
            rates[MORE_ERRORS] >= DETECTION_TARGET,
        ),
        ("detection of a 50% slower candidate", rates[SLOWER], rates[SLOWER] >= DETECTION_TARGET),
    ]


def figure_canaries(figure: JudgeQualityFigure) -> int:
    return figure.rows[0].canaries


def judge_quality_section(figure: JudgeQualityFigure | None) -> str:
    title = "## 12. Canary judge quality (simulation)\n\n"
    if figure is None:
        return title + "Not measured in this run."
    policy = figure.policy
    judged = "; ".join(
        f"{name}: {rate:.1%} ({'met' if met else '**missed**'})"
        for name, rate, met in targets(figure)
    )
    return (
        title + f"{figure_canaries(figure)} simulated canaries per row (`tests/benchmarks/"
        "judge_quality.py`, seeded): Poisson traffic split by the canary weight, stable "
        f"failing {STABLE_ERROR_RATE:.1%} of its requests, lognormal model latency (median "
        f"{LATENCY_MEDIAN_MS:g} ms, sigma {LATENCY_SIGMA:g}), one score per answer. The judge "
        f"(default policy: alpha {policy.alpha:g} over {policy.max_extensions + 1} looks, at "
        f"least {policy.min_requests} requests per side, margins {policy.error_margin:.0%} "
        f"errors, {policy.latency_tolerance:.0%} latency, KS {policy.score_shift_max:g} scores; "
        f"{_duration(EXTENSION)} extensions, a final inconclusive rolls back) sees latencies "
        "binned as the CloudWatch reader bins them. The threshold alarms are today's canary "
        f"guardrails (error rate > {names.DEFAULT_GUARDRAIL_ERROR_RATE_PERCENT:g}% or p99 > "
        f"{names.DEFAULT_GUARDRAIL_P99_LATENCY_MS:g} ms in a {PERIOD} s period) over the "
        'bake\'s periods. For a healthy candidate "rolls back" is the false-rollback rate, '
        "otherwise the detection rate. Targets at 5% of 100 requests per second, 5 minute "
        f"bake: {judged}. Measured in {figure.seconds / 60:.1f} minutes; docs/releases.md "
        '("Judge quality") explains the figures.\n\n' + judge_quality_table(figure)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 canaries a row, smoke run only")
    args = parser.parse_args(argv)
    figure = measure_judge_quality(args.quick)
    print(judge_quality_section(figure))
    print(
        f"\nMeasured on its own (`{COMMAND}`, not yet in a whole `make bench` run) on "
        f"{describe_machine().line()}; seeded, so any "
        "machine gives these numbers."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
