"""The retraining run state passed between Step Functions tasks, what it adds to the
registered version's model card, and the outcome notice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelship.registry.card import CardContext, ChampionRecord, GateRecord


@dataclass(frozen=True)
class RunState:
    """The JSON document a run carries: execution input plus what each task added."""

    data: dict[str, Any]

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> RunState:
        """A task's input: the state so far, or, for the first task, {run_id, input} with the
        execution input as given (its optional keys may be missing)."""
        if "run_id" not in event:
            raise ValueError("retraining task input needs run_id (the execution name)")
        if isinstance(event.get("input"), dict):
            return cls({**event["input"], "run_id": event["run_id"]})
        return cls(dict(event))

    @property
    def run_id(self) -> str:
        return str(self.data["run_id"])

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.data.get("options") or {})

    @property
    def dataset_key(self) -> str | None:
        key = self.data.get("dataset_key")
        return str(key) if key else None

    def merge(self, added: dict[str, Any]) -> dict[str, Any]:
        return {**self.data, **added}


def card_context(state: Mapping[str, Any]) -> CardContext:
    """The model card's part of a gated run: both models' scores on the same holdout rows
    (Evaluate), every gate check and the decision (Gate)."""
    evaluation = state["evaluation"]
    decision = state["decision"]
    champion = state.get("champion")
    scored = evaluation.get("champion")
    return CardContext(
        run_id=str(state["run_id"]),
        data_uri=str(state["data_uri"]),
        challenger_metrics=evaluation["challenger"],
        champion=(
            ChampionRecord(version=champion["version"], metrics=scored)
            if champion and scored
            else None
        ),
        gates=tuple(GateRecord.model_validate(check) for check in decision.get("checks", [])),
        decision=str(decision.get("summary", "")),
    )


def outcome_of(state: RunState) -> dict[str, Any]:
    """promoted | rolled_back | rejected | failed, with what the run knew."""
    data = state.data
    decision = data.get("decision") or {}
    release = data.get("release") or {}
    error = data.get("error")
    if error:
        outcome = "failed"
    elif decision and not decision.get("passed"):
        outcome = "rejected"
    elif release.get("outcome"):
        outcome = str(release["outcome"])
    elif data.get("registered"):
        outcome = "registered"
    else:
        outcome = "failed"
    return {
        "run_id": state.run_id,
        "outcome": outcome,
        "model_name": data.get("model_name"),
        "candidate_version": (data.get("challenger") or {}).get("version"),
        "champion_version": (data.get("champion") or {}).get("version"),
        "data_uri": data.get("data_uri"),
        "gate_summary": decision.get("summary"),
        "reasons": decision.get("reasons", []),
        "release": release or None,
        "error": _error_text(error) if error else None,
    }


def notify_outcome(sns: Any, state: RunState, topic_arn: str) -> dict[str, Any]:
    """The run's outcome, published to `topic_arn` unless that is empty."""
    summary = outcome_of(state)
    if topic_arn:
        sns.publish(
            TopicArn=topic_arn,
            Subject=f"modelship retraining {summary['outcome']}: {state.run_id}"[:100],
            Message=json.dumps(summary, indent=2, default=str),
        )
    return summary


def _error_text(error: Any) -> str:
    """Step Functions Catch output: {"Error": ..., "Cause": ...}; Cause may be Lambda's JSON."""
    if not isinstance(error, dict):
        return str(error)
    cause = error.get("Cause", "")
    try:
        parsed = json.loads(cause)
        cause = parsed.get("errorMessage", cause)
    except (TypeError, ValueError):
        pass
    return f"{error.get('Error', 'Error')}: {cause}"
