"""The values release actions take and return: which function they act on, a release, the
alias's routing, a status report and an action's outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelship import names
from modelship.releases.canary_alarms import AlarmState
from modelship.releases.history import HistoryRecord
from modelship.releases.rollout_runs import RolloutRun


@dataclass(frozen=True)
class ReleaseTarget:
    """Which function, alias and history bucket the release commands act on."""

    function_name: str
    alias: str
    bucket: str


@dataclass(frozen=True)
class ReleaseInfo:
    """A published Lambda version and the model it pins (none: `model_version` is empty)."""

    version: str
    model_name: str
    model_version: str
    model_sha256: str
    description: str

    def label(self) -> str:
        return f"v{self.version} ({self.model_name} {self.model_version or 'no model'})"


@dataclass(frozen=True)
class AliasState:
    stable: str
    weights: dict[str, float]
    revision_id: str | None

    @property
    def candidate(self) -> str | None:
        return next(iter(self.weights), None)

    @property
    def candidate_weight(self) -> float:
        return next(iter(self.weights.values()), 0.0)


_CHECK_KEYS = ("name", "outcome", "stable_n", "candidate_n", "p_value", "effect", "detail")


@dataclass(frozen=True)
class VerdictSummary:
    """The last canary verdict on the current candidate, from its history record."""

    outcome: str
    reason: str
    time: datetime
    look: int | None
    final: bool | None
    execution: str | None
    # Requests on each side over the judged window (the errors check's counts).
    stable_requests: float | None
    candidate_requests: float | None
    checks: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, record: HistoryRecord) -> VerdictSummary:
        details = record.details or {}
        checks = tuple(c for c in details.get("checks") or () if isinstance(c, dict))
        errors = next((c for c in checks if c.get("name") == "errors"), {})
        return cls(
            outcome=str(details.get("outcome", "")),
            reason=record.reason,
            time=record.time,
            look=details.get("look"),
            final=details.get("final"),
            execution=record.execution,
            stable_requests=errors.get("stable_n"),
            candidate_requests=errors.get("candidate_n"),
            checks=checks,
        )

    def summary(self) -> str:
        text = f"{self.outcome} at {self.time:%Y-%m-%dT%H:%M:%SZ}"
        if self.look:
            text += f" (extension {self.look})"
        if self.candidate_requests is not None and self.stable_requests is not None:
            text += (
                f", requests {self.candidate_requests:g} candidate vs "
                f"{self.stable_requests:g} stable"
            )
        return f"{text}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "reason": self.reason,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "look": self.look,
            "final": self.final,
            "execution": self.execution,
            "stable_requests": self.stable_requests,
            "candidate_requests": self.candidate_requests,
            "checks": [{key: check.get(key) for key in _CHECK_KEYS} for check in self.checks],
        }


@dataclass(frozen=True)
class Status:
    function_name: str
    alias: str
    stable: ReleaseInfo
    candidate: ReleaseInfo | None
    candidate_weight: float
    alarms: list[AlarmState]
    rollouts: list[RolloutRun] = field(default_factory=list)
    verdict: VerdictSummary | None = None

    @property
    def rollouts_running(self) -> list[str]:
        return [run.execution for run in self.rollouts if run.status == "RUNNING"]

    def as_dict(self) -> dict[str, Any]:
        def release(info: ReleaseInfo | None) -> dict[str, Any] | None:
            if info is None:
                return None
            return {
                "version": info.version,
                "model_name": info.model_name,
                "model_version": info.model_version,
                "model_sha256": info.model_sha256,
            }

        return {
            "function": self.function_name,
            "alias": self.alias,
            "stable": release(self.stable),
            "candidate": release(self.candidate),
            "candidate_weight": self.candidate_weight,
            "stable_weight": round(1.0 - self.candidate_weight, names.WEIGHT_DECIMALS),
            "alarms": [{"name": a.name, "state": a.state} for a in self.alarms],
            "rollouts_running": self.rollouts_running,
            "rollouts": [run.as_dict() for run in self.rollouts],
            "verdict": self.verdict.as_dict() if self.verdict is not None else None,
        }


@dataclass(frozen=True)
class Outcome:
    """What an action did; `changed` is False when it found nothing to do (idempotent)."""

    action: str
    changed: bool
    record: HistoryRecord | None
    message: str
