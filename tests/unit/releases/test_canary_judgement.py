"""What a rollout does with a verdict (extend, go on, roll back), windows without scores,
and the summary `modelship status` shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from modelship.errors import CanaryVerdictFailed, CanaryVerdictInconclusive
from modelship.releases.canary_judgement import task_answer, without_absent_scores
from modelship.releases.canary_samples import SCORE_EDGES, CanaryWindow, Histogram, SideSample
from modelship.releases.history import HistoryRecord
from modelship.releases.models import VerdictSummary
from modelship.releases.verdict import Verdict, VerdictPolicy, judge

START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
EDGES = (10.0, 20.0, 30.0, 40.0)


def side(version: str, requests: int, errors: int, latency_ms: float, **extra: Any) -> SideSample:
    values = [latency_ms + (i % 7) for i in range(requests)]
    return SideSample(version, requests, errors, Histogram.of_values(values, EDGES), **extra)


def window(
    candidate_requests: int = 1500,
    candidate_errors: int = 7,
    candidate_latency_ms: float = 20.0,
) -> CanaryWindow:
    return CanaryWindow(
        START,
        START + timedelta(minutes=5),
        side("v3", 28_500, 140, 20.0),
        side("v4", candidate_requests, candidate_errors, candidate_latency_ms),
    )


def rollout_releases(**policy: Any) -> Any:
    """What task_answer reads of Releases."""
    return SimpleNamespace(verdict_policy=VerdictPolicy(**policy), verdict_extension_seconds=180)


def test_a_pass_ends_the_step() -> None:
    releases = rollout_releases()
    verdict = judge(window(), releases.verdict_policy)

    answer = task_answer(verdict, releases)

    assert verdict.outcome == "pass"
    assert answer == {
        "action": "judge",
        "outcome": "pass",
        "reason": verdict.reason,
        "extend": False,
        "next_look": 1,
        "extension_seconds": 180,
    }


def test_a_fail_raises_with_the_reason_naming_the_check() -> None:
    releases = rollout_releases()
    verdict = judge(window(candidate_latency_ms=30.0), releases.verdict_policy)

    with pytest.raises(CanaryVerdictFailed, match="latency") as raised:
        task_answer(verdict, releases)

    assert str(raised.value) == verdict.reason
    assert raised.value.reason == "canary_verdict_failed"


def test_an_inconclusive_look_with_extensions_left_extends() -> None:
    releases = rollout_releases(max_extensions=2)
    verdict = judge(window(candidate_requests=40, candidate_errors=1), releases.verdict_policy)

    answer = task_answer(verdict, releases)

    assert verdict.outcome == "inconclusive"
    assert (answer["extend"], answer["next_look"], answer["extension_seconds"]) == (True, 1, 180)


def test_the_last_inconclusive_look_rolls_back_by_default() -> None:
    releases = rollout_releases(max_extensions=2)
    verdict = judge(
        window(candidate_requests=40, candidate_errors=1), releases.verdict_policy, look=2
    )

    with pytest.raises(CanaryVerdictInconclusive, match="too few requests") as raised:
        task_answer(verdict, releases)

    assert "after 2 extension(s)" in str(raised.value)


def test_the_last_inconclusive_look_goes_on_when_told_to_proceed() -> None:
    releases = rollout_releases(max_extensions=2, on_inconclusive="proceed")
    verdict = judge(
        window(candidate_requests=40, candidate_errors=1), releases.verdict_policy, look=2
    )

    answer = task_answer(verdict, releases)

    assert (answer["outcome"], answer["extend"]) == ("inconclusive", False)


def test_with_no_extensions_the_first_look_is_final() -> None:
    releases = rollout_releases(max_extensions=0)
    verdict = judge(window(candidate_requests=40, candidate_errors=1), releases.verdict_policy)

    with pytest.raises(CanaryVerdictInconclusive):
        task_answer(verdict, releases)


def test_a_window_with_no_scores_on_either_side_skips_the_scores_check() -> None:
    empty = Histogram(SCORE_EDGES, (0.0,) * (len(SCORE_EDGES) + 1))
    base = window()
    no_scores = CanaryWindow(
        base.start,
        base.end,
        side("v3", 28_500, 140, 20.0, scores=empty),
        side("v4", 1500, 7, 20.0, scores=None),
    )

    cleaned = without_absent_scores(no_scores)
    verdict = judge(cleaned, VerdictPolicy())

    assert (cleaned.stable.scores, cleaned.candidate.scores) == (None, None)
    assert [c.name for c in verdict.checks] == ["errors", "latency"]
    assert verdict.outcome == "pass"


def test_scores_on_one_side_only_are_kept_and_judged_too_few() -> None:
    scored = Histogram.of_values([0.8] * 28_500, SCORE_EDGES)
    empty = Histogram(SCORE_EDGES, (0.0,) * (len(SCORE_EDGES) + 1))
    base = window()
    lopsided = CanaryWindow(
        base.start,
        base.end,
        side("v3", 28_500, 140, 20.0, scores=scored),
        side("v4", 1500, 7, 20.0, scores=empty),
    )

    verdict = judge(without_absent_scores(lopsided), VerdictPolicy())

    scores = next(c for c in verdict.checks if c.name == "scores")
    assert scores.outcome == "inconclusive"
    assert verdict.outcome == "inconclusive"


def _record(verdict: Verdict) -> HistoryRecord:
    return HistoryRecord(
        action="verdict",
        time=START + timedelta(minutes=5),
        actor="arn:aws:sts::123456789012:assumed-role/release/fn",
        function_name="predict",
        alias="live",
        from_version="3",
        to_version="4",
        reason=verdict.reason,
        execution="arn:aws:states:us-east-1:123456789012:execution:release:run",
        details=verdict.as_details(),
    )


def test_status_summary_shows_outcome_reason_and_sample_sizes() -> None:
    verdict = judge(window(candidate_requests=40, candidate_errors=1), VerdictPolicy(), look=1)

    summary = VerdictSummary.of(_record(verdict))

    assert (summary.outcome, summary.look, summary.final) == ("inconclusive", 1, False)
    assert (summary.stable_requests, summary.candidate_requests) == (28_500, 40)
    assert summary.summary() == (
        "inconclusive at 2026-11-28T10:05:00Z (extension 1), requests 40 candidate vs 28500 "
        f"stable: {verdict.reason}"
    )
    data = summary.as_dict()
    assert data["time"] == "2026-11-28T10:05:00Z"
    assert [c["name"] for c in data["checks"]] == ["errors", "latency"]
    assert data["checks"][0]["candidate_n"] == 40


def test_status_summary_of_a_verdict_without_checks() -> None:
    same = CanaryWindow(START, START, side("v3", 10, 0, 20.0), side("v3", 10, 0, 20.0))
    verdict = judge(same, VerdictPolicy())

    summary = VerdictSummary.of(_record(verdict))

    assert summary.outcome == "pass"
    assert summary.candidate_requests is None
    assert summary.summary().endswith("not compared: both sides serve model version v3")
