"""The canary judge on windows shaped like real ones: 5% of 100 requests per second for five
minutes is 1,500 candidate requests against 28,500 stable ones."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from modelship.errors import ConfigurationError
from modelship.releases.canary_samples import (
    EDGE_PERCENTILES,
    SCORE_EDGES,
    CanaryWindow,
    Histogram,
    SideSample,
    shared_edges,
)
from modelship.releases.verdict import Verdict, VerdictPolicy, judge

START = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
END = START + timedelta(minutes=5)
MEDIAN_MS = 20.0


def latencies(rng: np.random.Generator, n: int, slower: float = 1.0) -> np.ndarray:
    return rng.lognormal(np.log(MEDIAN_MS * slower), 0.5, n)


def window(
    *,
    stable: tuple[int, int] = (28500, 142),
    candidate: tuple[int, int] = (1500, 8),
    slower: float = 1.0,
    scores: tuple[float, float] | None = None,
    seed: int = 0,
    versions: tuple[str, str] = ("v3", "v4"),
) -> CanaryWindow:
    """Requests and errors per side; latencies lognormal, the candidate's `slower` times the
    stable's, binned as the CloudWatch reader bins them; scores beta(a, 2) per side."""
    rng = np.random.default_rng(seed)
    s_lat, c_lat = latencies(rng, stable[0]), latencies(rng, candidate[0], slower)
    edges = shared_edges(
        np.percentile(s_lat, EDGE_PERCENTILES), np.percentile(c_lat, EDGE_PERCENTILES)
    )
    s_scores = c_scores = None
    if scores is not None:
        s_scores = Histogram.of_values(rng.beta(scores[0], 2, stable[0]), SCORE_EDGES)
        c_scores = Histogram.of_values(rng.beta(scores[1], 2, candidate[0]), SCORE_EDGES)
    return CanaryWindow(
        START,
        END,
        SideSample(versions[0], *stable, Histogram.of_values(s_lat, edges), s_scores),
        SideSample(versions[1], *candidate, Histogram.of_values(c_lat, edges), c_scores),
    )


def check(verdict: Verdict, name: str) -> Any:
    return next(c for c in verdict.checks if c.name == name)


def test_a_healthy_candidate_passes() -> None:
    verdict = judge(window(), VerdictPolicy())

    assert verdict.outcome == "pass"
    assert [c.name for c in verdict.checks] == ["errors", "latency"]
    assert {c.outcome for c in verdict.checks} == {"pass"}
    assert verdict.reason == "pass: errors, latency within the policy's margins"
    assert (verdict.stable_version, verdict.candidate_version) == ("v3", "v4")


def test_one_transient_error_at_low_traffic_does_not_fail() -> None:
    # A 1% canary for a minute at 20 requests per second: 1 error of 12 would be an 8% error
    # rate to a threshold alarm.
    verdict = judge(window(stable=(1200, 0), candidate=(60, 1)), VerdictPolicy())

    assert verdict.outcome == "inconclusive"
    errors = check(verdict, "errors")
    assert errors.outcome == "inconclusive"
    assert "too few requests on the candidate (60, fewer than 100)" in errors.detail


@pytest.mark.parametrize(("stable", "candidate"), [((1200, 0), (60, 1)), ((4000, 0), (200, 1))])
def test_one_transient_error_passes_once_there_are_enough_requests(
    stable: tuple[int, int], candidate: tuple[int, int]
) -> None:
    verdict = judge(window(stable=stable, candidate=candidate), VerdictPolicy(min_requests=50))

    errors = check(verdict, "errors")
    assert errors.outcome == "pass"
    assert "exact test" in errors.detail
    assert verdict.outcome == "pass"


def test_too_few_requests_on_either_side_is_inconclusive() -> None:
    verdict = judge(window(candidate=(99, 0)), VerdictPolicy())

    assert verdict.outcome == "inconclusive"
    assert [c.outcome for c in verdict.checks] == ["inconclusive", "inconclusive"]
    assert verdict.reason.startswith("inconclusive: errors (too few requests on the candidate")
    assert "latency (too few latency values on the candidate" in verdict.reason
    assert check(verdict, "errors").p_value is None


def test_a_candidate_50_percent_slower_fails_naming_latency() -> None:
    verdict = judge(window(slower=1.5), VerdictPolicy())

    assert verdict.outcome == "fail"
    latency = check(verdict, "latency")
    assert latency.outcome == "fail"
    assert latency.effect == pytest.approx(0.5, abs=0.08)
    assert latency.p_value < 1e-10
    assert check(verdict, "errors").outcome == "pass"
    assert verdict.reason.startswith("fail: latency (candidate median 1.")
    assert "x stable)" in verdict.reason


def test_a_significant_slowdown_within_the_tolerance_passes() -> None:
    verdict = judge(
        window(stable=(100000, 500), candidate=(20000, 100), slower=1.1), VerdictPolicy()
    )

    latency = check(verdict, "latency")
    assert latency.p_value < 1e-6
    assert latency.effect == pytest.approx(0.1, abs=0.03)
    assert latency.outcome == "pass"


def test_two_points_more_errors_at_realistic_volume_fail_naming_errors() -> None:
    # 0.5% on stable, 2.5% on the candidate.
    verdict = judge(window(stable=(28500, 142), candidate=(1500, 38)), VerdictPolicy())

    assert verdict.outcome == "fail"
    errors = check(verdict, "errors")
    assert errors.outcome == "fail"
    assert errors.effect == pytest.approx(0.038 / 1.5 - 142 / 28500)
    assert "z test" in errors.detail
    assert verdict.reason == "fail: errors (candidate 2.53% vs stable 0.50%)"


def test_a_significant_error_difference_under_the_margin_passes() -> None:
    # 0.5% more errors over 200,000 requests: real, but under the 1 point margin.
    verdict = judge(window(stable=(200000, 1000), candidate=(50000, 500)), VerdictPolicy())

    errors = check(verdict, "errors")
    assert errors.p_value < 1e-6
    assert errors.outcome == "pass"


def test_the_level_of_a_look_is_split_over_the_looks() -> None:
    # Two points more errors in a small canary: p between alpha / 4 and alpha.
    small = window(stable=(2000, 10), candidate=(400, 8))
    p = check(judge(small, VerdictPolicy(max_extensions=0)), "errors").p_value
    assert 0.01 / 4 < p < 0.01

    assert judge(small, VerdictPolicy(max_extensions=0)).outcome == "fail"
    assert judge(small, VerdictPolicy(max_extensions=3)).outcome == "pass"


def test_the_last_look_is_final_and_looks_beyond_it_are_refused() -> None:
    policy = VerdictPolicy(max_extensions=2)

    assert [judge(window(), policy, look=n).final for n in range(3)] == [False, False, True]
    with pytest.raises(ValueError, match=r"look must be a whole number from 0 to max_extensions"):
        judge(window(), policy, look=3)
    with pytest.raises(ValueError, match="look must be"):
        judge(window(), policy, look=-1)


def test_the_same_model_version_on_both_sides_is_not_compared() -> None:
    verdict = judge(window(slower=2.0, versions=("v4", "v4")), VerdictPolicy())

    assert verdict.outcome == "pass"
    assert verdict.checks == ()
    assert verdict.reason == "not compared: both sides serve model version v4"


def test_shifted_scores_fail_naming_scores() -> None:
    verdict = judge(window(scores=(5, 1.5)), VerdictPolicy())

    scores = check(verdict, "scores")
    assert scores.outcome == "fail"
    assert scores.statistic == scores.effect
    assert scores.effect > 0.2
    assert verdict.reason.startswith("fail: scores (distributions 0.")


def test_similar_scores_pass_and_missing_scores_are_skipped() -> None:
    assert check(judge(window(scores=(5, 5)), VerdictPolicy()), "scores").outcome == "pass"
    assert "scores" not in [c.name for c in judge(window(), VerdictPolicy()).checks]


def test_a_missing_latency_histogram_is_inconclusive() -> None:
    base = window()
    bare = replace(base, candidate=replace(base.candidate, latency=None))

    latency = check(judge(bare, VerdictPolicy()), "latency")

    assert latency.outcome == "inconclusive"
    assert latency.candidate_n == 0


def test_the_details_are_json_and_read_back() -> None:
    verdict = judge(window(slower=1.5, scores=(5, 5)), VerdictPolicy(), look=1)

    details = json.loads(json.dumps(verdict.as_details()))

    assert details["outcome"] == "fail"
    assert details["look"] == 1
    assert details["start"] == "2026-11-28T10:00:00Z"
    assert [c["name"] for c in details["checks"]] == ["errors", "latency", "scores"]
    assert Verdict.model_validate(details) == verdict


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"alpha": 1.5}, "alpha must be between 0 and 1"),
        ({"min_requests": 0}, "min_requests must be a whole number >= 1, not 0"),
        ({"min_requests": 10.5}, "min_requests must be a whole number"),
        ({"error_margin": 2}, "error_margin is a fraction of requests in [0, 1), not 2"),
        ({"error_margin": -0.01}, "error_margin is a fraction"),
        ({"latency_tolerance": -0.2}, "latency_tolerance is a fraction of the stable median"),
        ({"score_shift_max": 1.0}, "score_shift_max is a KS distance in [0, 1)"),
        ({"max_extensions": -1}, "max_extensions must be a whole number >= 0, not -1"),
        ({"max_extensions": True}, "max_extensions must be a whole number"),
        (
            {"on_inconclusive": "wait"},
            "on_inconclusive must be 'rollback' or 'proceed', not 'wait'",
        ),
    ],
)
def test_bad_policy_values_are_refused_by_name(change: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match="invalid verdict policy") as refused:
        VerdictPolicy(**change)

    assert named in str(refused.value)


def test_the_default_policy_is_the_documented_one() -> None:
    policy = VerdictPolicy()

    assert (policy.alpha, policy.min_requests, policy.max_extensions) == (0.01, 100, 3)
    assert policy.error_margin == pytest.approx(0.01)
    assert policy.latency_tolerance == pytest.approx(0.2)
    assert policy.alpha_per_look == pytest.approx(0.0025)
