"""Judging a running canary: read both sides' metrics over the step so far, let the judge
(`modelship.releases.verdict`) decide, and record the verdict in the release history.

Stable is the alias's FunctionVersion, the candidate the canary's version; each side is
identified in the metrics by the model version its release pins (the handler's metrics) and
by its Lambda version (Lambda's own Invocations and Errors through the alias, which count a
version that crashes before its handler runs). The window starts when the rollout step
applied its weight, so every look at a step judges all of that step's traffic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from modelship.errors import (
    CanaryInProgress,
    CanaryVerdictFailed,
    CanaryVerdictInconclusive,
    NoCanary,
)
from modelship.releases.canary_samples import CanaryWindow
from modelship.releases.canary_window import read_window
from modelship.releases.verdict import Verdict, judge

if TYPE_CHECKING:
    from modelship.releases.releases import Releases

WindowReader = Callable[..., CanaryWindow]


def judge_canary(
    releases: Releases,
    candidate: str,
    *,
    since: datetime,
    look: int = 0,
    execution: str | None = None,
    read: WindowReader | None = None,
) -> Verdict:
    """Judges the canary of `candidate` over [since, now) and appends the verdict to the
    history. `read` reads the window (`canary_window.read_window` unless a test passes one)."""
    read = read or read_window
    state = releases.alias_state()
    if state.candidate is None:
        raise NoCanary(
            f"the canary of version {candidate} is gone (rolled back?); nothing to judge"
        )
    if state.candidate != candidate:
        raise CanaryInProgress(
            f"the canary on {releases.target.alias} is version {state.candidate}, not {candidate}"
        )
    stable = releases.version_info(state.stable)
    info = releases.release(candidate)
    window = read(
        releases.cloudwatch,
        model_name=info.model_name,
        function_name=releases.target.function_name,
        alias=releases.target.alias,
        stable_version=stable.model_version,
        candidate_version=info.model_version,
        stable_lambda_version=state.stable,
        candidate_lambda_version=candidate,
        start=since,
        end=releases.clock(),
        # Asked for always: only classifiers record PredictionScore, and a window where
        # neither side has a score is judged without the scores check.
        scores=True,
    )
    verdict = judge(without_absent_scores(window), releases.verdict_policy, look=look)
    releases.record(
        "verdict",
        state,
        state,
        from_version=state.stable,
        to_version=candidate,
        from_model=stable.model_version or None,
        to_model=info.model_version,
        reason=verdict.reason,
        execution=execution,
        details=verdict.as_details(),
    )
    return verdict


def without_absent_scores(window: CanaryWindow) -> CanaryWindow:
    """The window without score histograms when neither side recorded a score (a regressor,
    or a model that answers labels only): there is no score distribution to compare."""
    sides = (window.stable.scores, window.candidate.scores)
    if any(h is not None and h.total > 0 for h in sides):
        return window
    return replace(
        window,
        stable=replace(window.stable, scores=None),
        candidate=replace(window.candidate, scores=None),
    )


def task_answer(verdict: Verdict, releases: Releases) -> dict[str, Any]:
    """What the Judge state gets back; raises when the rollout must roll back."""
    if verdict.outcome == "fail":
        raise CanaryVerdictFailed(verdict.reason)
    inconclusive = verdict.outcome == "inconclusive"
    if inconclusive and verdict.final and releases.verdict_policy.on_inconclusive == "rollback":
        raise CanaryVerdictInconclusive(
            f"{verdict.reason} (still, after {verdict.look} extension(s))"
        )
    extend = inconclusive and not verdict.final
    return {
        "action": "judge",
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "extend": extend,
        "next_look": verdict.look + 1,
        "extension_seconds": releases.verdict_extension_seconds,
    }
