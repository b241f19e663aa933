"""A shadow mirror of a columnar request: the real predict handler, as the shadow, predicts
the columnar body again and compares its answer with the served columnar answer (a
probability matrix in the order of `classes`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from modelship import names
from modelship.sample_events import load_event
from modelship.serving.shadow_mirror import MirrorEvent
from tests.integration.conftest import Invoke


def _mirror(body: str, answer: dict[str, Any]) -> dict[str, Any]:
    return MirrorEvent(
        model="churn",
        request_id="req-predict-columnar",
        served_model_version="v0",
        served_latency_ms=3.0,
        sent_at=datetime(2026, 11, 28, 10, tzinfo=UTC),
        body=body,
        answer=answer,
    ).event()


def _shadow_metrics(out: str) -> dict[str, Any]:
    (emf,) = [
        json.loads(line)
        for line in out.splitlines()
        if names.METRIC_SHADOW_REQUESTS in line and '"_aws"' in line
    ]
    return emf


@pytest.fixture
def served(function: Invoke) -> tuple[str, dict[str, Any]]:
    """The columnar request's body and the 200 answer users got."""
    event = load_event("predict_columnar")
    response = function(event)
    assert response["statusCode"] == 200
    answer: dict[str, Any] = json.loads(response["body"])
    assert "classes" in answer  # a columnar answer
    return event["body"], answer


def test_a_columnar_mirror_agrees_with_the_served_columnar_answer(
    function: Invoke, served: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    body, answer = served
    capsys.readouterr()

    summary = function(_mirror(body, answer))

    assert summary["shadow"] == "compared", summary
    assert (summary["rows"], summary["agreeing_rows"]) == (3, 3)
    emf = _shadow_metrics(capsys.readouterr().out)
    assert emf[names.METRIC_SHADOW_ERRORS] == [0.0]
    assert emf[names.METRIC_SHADOW_SCORE_DIFF_MAX] == [0.0]


def test_the_served_matrix_is_read_in_the_order_of_its_classes(
    function: Invoke, served: tuple[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    body, answer = served
    # The same answer with its classes, and each row's probabilities, in the other order.
    reordered = {
        **answer,
        "classes": answer["classes"][::-1],
        "probabilities": [row[::-1] for row in answer["probabilities"]],
    }
    # The first row's probabilities moved by 0.25 between the two classes.
    first, *rest = answer["probabilities"]
    shifted = {**answer, "probabilities": [[first[0] - 0.25, first[1] + 0.25], *rest]}
    capsys.readouterr()

    same = function(_mirror(body, reordered))
    same_emf = _shadow_metrics(capsys.readouterr().out)
    moved = function(_mirror(body, shifted))
    moved_emf = _shadow_metrics(capsys.readouterr().out)

    assert (same["shadow"], same["agreeing_rows"]) == ("compared", 3)
    assert same_emf[names.METRIC_SHADOW_SCORE_DIFF_MAX] == [0.0]
    assert moved["shadow"] == "compared"
    assert moved_emf[names.METRIC_SHADOW_SCORE_DIFF_MAX][0] == pytest.approx(0.25)
    assert moved_emf[names.METRIC_SHADOW_SCORE_DIFF_SUM][0] == pytest.approx(0.25)
