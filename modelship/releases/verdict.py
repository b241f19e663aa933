"""The canary judge: candidate against stable over the same window, by statistics.

Three checks, each pass / fail / inconclusive: errors (is the candidate's error rate higher?),
latency (is its model latency higher?) and, for classifiers, scores (has the distribution of
its predicted scores moved?). A check fails only when the difference is both significant and
larger than the policy's margin: significance alone would roll back a candidate 1 ms slower
at high traffic, a margin alone would roll back one transient error at low traffic.

The same canary is judged once after the bake and again after each extension, so the level
of each look is alpha / (1 + max_extensions) (Bonferroni over the looks): the chance that a
healthy candidate fails at any look stays below alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from modelship import names
from modelship.errors import ConfigurationError
from modelship.releases.canary_samples import CanaryWindow, Histogram, SideSample
from modelship.releases.verdict_stats import (
    binned_ks,
    binned_mann_whitney,
    binned_median,
    error_rate_test,
)

Outcome = Literal["pass", "fail", "inconclusive"]
CheckName = Literal["errors", "latency", "scores"]


@dataclass(frozen=True)
class VerdictPolicy:
    """How a canary is judged. Rates and tolerances are fractions (0.01 = 1%)."""

    alpha: float = names.DEFAULT_VERDICT_ALPHA
    min_requests: int = names.DEFAULT_VERDICT_MIN_REQUESTS
    error_margin: float = names.DEFAULT_VERDICT_ERROR_MARGIN_PERCENT / 100
    latency_tolerance: float = names.DEFAULT_VERDICT_LATENCY_TOLERANCE_PERCENT / 100
    score_shift_max: float = names.DEFAULT_VERDICT_SCORE_SHIFT_MAX
    max_extensions: int = names.DEFAULT_VERDICT_MAX_EXTENSIONS
    on_inconclusive: str = names.DEFAULT_VERDICT_ON_INCONCLUSIVE

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.alpha < 1:
            problems.append(f"alpha must be between 0 and 1 (exclusive), not {self.alpha!r}")
        if not _is_int(self.min_requests) or self.min_requests < 1:
            problems.append(f"min_requests must be a whole number >= 1, not {self.min_requests!r}")
        if not 0 <= self.error_margin < 1:
            problems.append(
                f"error_margin is a fraction of requests in [0, 1), not {self.error_margin!r}"
            )
        if not 0 <= self.latency_tolerance < 100:
            problems.append(
                "latency_tolerance is a fraction of the stable median >= 0 (0.2 = 20% slower), "
                f"not {self.latency_tolerance!r}"
            )
        if not 0 <= self.score_shift_max < 1:
            problems.append(
                f"score_shift_max is a KS distance in [0, 1), not {self.score_shift_max!r}"
            )
        if not _is_int(self.max_extensions) or self.max_extensions < 0:
            problems.append(
                f"max_extensions must be a whole number >= 0, not {self.max_extensions!r}"
            )
        if self.on_inconclusive not in names.VERDICT_ON_INCONCLUSIVE_CHOICES:
            choices = " or ".join(repr(c) for c in names.VERDICT_ON_INCONCLUSIVE_CHOICES)
            problems.append(f"on_inconclusive must be {choices}, not {self.on_inconclusive!r}")
        if problems:
            raise ConfigurationError("invalid verdict policy: " + "; ".join(problems))

    @property
    def alpha_per_look(self) -> float:
        return self.alpha / (1 + self.max_extensions)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Check(BaseModel):
    """One comparison of the verdict."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: CheckName
    outcome: Outcome
    statistic: float | None  # errors: z (None for the exact test); latency: U as z; scores: D
    p_value: float | None  # one-sided for errors and latency (candidate worse), two for scores
    effect: float | None  # errors: rate difference; latency: median ratio - 1; scores: D
    stable_n: float
    candidate_n: float
    detail: str


class Verdict(BaseModel):
    """The judgement of one look at a canary."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    outcome: Outcome
    checks: tuple[Check, ...]
    look: int
    final: bool
    start: datetime
    end: datetime
    stable_version: str
    candidate_version: str
    reason: str

    def as_details(self) -> dict[str, Any]:
        """JSON-safe, for `HistoryRecord.details`."""
        return self.model_dump(mode="json")


def judge(window: CanaryWindow, policy: VerdictPolicy, *, look: int = 0) -> Verdict:
    """Judges the candidate against stable over `window`; `look` is 0 right after the bake and
    1.. for each extension, at most `policy.max_extensions`."""
    if not _is_int(look) or not 0 <= look <= policy.max_extensions:
        raise ValueError(
            f"look must be a whole number from 0 to max_extensions ({policy.max_extensions}), "
            f"not {look!r}"
        )
    stable, candidate = window.stable, window.candidate
    common = {
        "look": look,
        "final": look == policy.max_extensions,
        "start": window.start,
        "end": window.end,
        "stable_version": stable.model_version,
        "candidate_version": candidate.model_version,
    }
    if stable.model_version == candidate.model_version:
        reason = f"not compared: both sides serve model version {stable.model_version}"
        return Verdict(outcome="pass", checks=(), reason=reason, **common)
    checks = [_errors(stable, candidate, policy), _latency(stable, candidate, policy)]
    if stable.scores is not None and candidate.scores is not None:
        checks.append(_scores(stable.scores, candidate.scores, policy))
    outcome, reason = _overall(checks)
    return Verdict(outcome=outcome, checks=tuple(checks), reason=reason, **common)


def _overall(checks: list[Check]) -> tuple[Outcome, str]:
    for outcome in ("fail", "inconclusive"):
        matching = [c for c in checks if c.outcome == outcome]
        if matching:
            return outcome, f"{outcome}: " + "; ".join(_short(c) for c in matching)
    judged = ", ".join(c.name for c in checks)
    return "pass", f"pass: {judged} within the policy's margins"


def _short(check: Check) -> str:
    """`latency (candidate median 1.52x stable)`: the detail's words before the statistics."""
    words = check.detail.split(": ", 1)[-1].split(" (", 1)[0]
    return f"{check.name} ({words})"


def _sizes(stable_n: float, candidate_n: float) -> str:
    return f"n={candidate_n:g} vs {stable_n:g}"


def _too_few(
    name: CheckName, what: str, stable_n: float, candidate_n: float, policy: VerdictPolicy
) -> Check | None:
    if min(stable_n, candidate_n) >= policy.min_requests:
        return None
    side = "candidate" if candidate_n < stable_n else "stable"
    fewest = min(stable_n, candidate_n)
    return Check(
        name=name,
        outcome="inconclusive",
        statistic=None,
        p_value=None,
        effect=None,
        stable_n=stable_n,
        candidate_n=candidate_n,
        detail=(
            f"{name}: too few {what} on the {side} ({fewest:g}, fewer than "
            f"{policy.min_requests}) ({_sizes(stable_n, candidate_n)})"
        ),
    )


def _decide(significant: bool, large: bool) -> Outcome:
    return "fail" if significant and large else "pass"


def _errors(stable: SideSample, candidate: SideSample, policy: VerdictPolicy) -> Check:
    s_n, c_n = float(stable.requests), float(candidate.requests)
    too_few = _too_few("errors", "requests", s_n, c_n, policy)
    if too_few is not None:
        return too_few
    test = error_rate_test(candidate.errors, candidate.requests, stable.errors, stable.requests)
    effect = candidate.errors / candidate.requests - stable.errors / stable.requests
    outcome = _decide(test.p_value < policy.alpha_per_look, effect > policy.error_margin)
    detail = (
        f"errors: candidate {candidate.errors / candidate.requests:.2%} vs stable "
        f"{stable.errors / stable.requests:.2%} ({effect * 100:+.2f} points, "
        f"{test.method}, p={test.p_value:.2g}, {_sizes(s_n, c_n)})"
    )
    return Check(
        name="errors",
        outcome=outcome,
        statistic=test.z,
        p_value=test.p_value,
        effect=effect,
        stable_n=s_n,
        candidate_n=c_n,
        detail=detail,
    )


def _latency(stable: SideSample, candidate: SideSample, policy: VerdictPolicy) -> Check:
    s_hist, c_hist = stable.latency, candidate.latency
    s_n = s_hist.total if s_hist is not None else 0.0
    c_n = c_hist.total if c_hist is not None else 0.0
    too_few = _too_few("latency", "latency values", s_n, c_n, policy)
    if too_few is not None:
        return too_few
    # A missing histogram has no values: too few.
    assert s_hist is not None
    assert c_hist is not None
    test = binned_mann_whitney(c_hist, s_hist)
    s_median, c_median = binned_median(s_hist), binned_median(c_hist)
    ratio = c_median / s_median if s_median > 0 else float("inf")
    effect = ratio - 1
    outcome = _decide(test.p_value < policy.alpha_per_look, effect > policy.latency_tolerance)
    detail = (
        f"latency: candidate median {ratio:.2f}x stable ({c_median:.3g} vs {s_median:.3g} ms, "
        f"p={test.p_value:.2g}, {_sizes(s_n, c_n)})"
    )
    return Check(
        name="latency",
        outcome=outcome,
        statistic=test.z,
        p_value=test.p_value,
        effect=effect,
        stable_n=s_n,
        candidate_n=c_n,
        detail=detail,
    )


def _scores(stable: Histogram, candidate: Histogram, policy: VerdictPolicy) -> Check:
    s_n, c_n = stable.total, candidate.total
    too_few = _too_few("scores", "scores", s_n, c_n, policy)
    if too_few is not None:
        return too_few
    test = binned_ks(candidate, stable)
    outcome = _decide(test.p_value < policy.alpha_per_look, test.distance > policy.score_shift_max)
    detail = (
        f"scores: distributions {test.distance:.2f} apart (KS distance, "
        f"p={test.p_value:.2g}, {_sizes(s_n, c_n)})"
    )
    return Check(
        name="scores",
        outcome=outcome,
        statistic=test.distance,
        p_value=test.p_value,
        effect=test.distance,
        stable_n=s_n,
        candidate_n=c_n,
        detail=detail,
    )
