"""Releases of the predict function: create, canary, shift, promote, status.

A release is a published Lambda version whose environment pins MODEL_NAME / MODEL_VERSION /
MODEL_SHA256. The alias (`live`) is the only routing state (`lambda_alias`); every change is
recorded in the release history, and the history says which execution owns a canary or a
promotion. Rolling back, by an operator or automatically, is `modelship.releases.rollback`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import modelship.releases.canary_alarms as canary_alarms
from modelship import names
from modelship.errors import (
    CanaryInProgress,
    IncompatibleRelease,
    InvalidWeight,
    NoCanary,
    ReleaseConflict,
    ReleaseNotFound,
)
from modelship.registry.registry import Registry
from modelship.releases.canary_alarms import AlarmState, GuardrailThresholds
from modelship.releases.compatibility import check_artifact, check_runtime, check_schema
from modelship.releases.history import Action, HistoryRecord, ReleaseHistory
from modelship.releases.lambda_alias import FunctionAlias
from modelship.releases.models import (
    AliasState,
    Outcome,
    ReleaseInfo,
    ReleaseTarget,
    Status,
    VerdictSummary,
)
from modelship.releases.rollout_runs import Kind, rollout_runs
from modelship.releases.verdict import VerdictPolicy


def check_weight(weight: float) -> float:
    """The weight as the alias will carry it: rounded first, then checked, so a weight that
    rounds to 0 or 1 is refused instead of silently becoming no canary or a full one."""
    rounded = round(weight, names.WEIGHT_DECIMALS)
    if not 0.0 < rounded < 1.0:
        raise InvalidWeight(
            f"canary weight must be between 0 and 1 exclusive (e.g. 0.05 or 5%) to "
            f"{names.WEIGHT_DECIMALS} decimals, got {weight:g}; "
            "use `modelship promote` to send all traffic to the candidate"
        )
    return rounded


class Releases:
    """Release actions on one function's alias. Clients are passed in (boto3 or moto-backed)."""

    def __init__(
        self,
        target: ReleaseTarget,
        *,
        lambda_client: Any,
        s3: Any,
        cloudwatch: Any,
        sts: Any,
        thresholds: GuardrailThresholds | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        post_promotion_guard: timedelta = timedelta(
            seconds=names.DEFAULT_POST_PROMOTION_GUARD_SECONDS
        ),
        verdict_policy: VerdictPolicy | None = None,
        verdict_extension_seconds: int = names.DEFAULT_VERDICT_EXTENSION_SECONDS,
    ) -> None:
        self.target = target
        self.alias = FunctionAlias(lambda_client, target.function_name, target.alias)
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.sts = sts
        self.thresholds = thresholds or GuardrailThresholds()
        self.clock = clock
        self.post_promotion_guard = post_promotion_guard
        # How a rollout judges its canary (modelship.releases.canary_judgement).
        self.verdict_policy = verdict_policy or VerdictPolicy()
        self.verdict_extension_seconds = verdict_extension_seconds
        self.history = ReleaseHistory(s3, target.bucket, target.function_name)
        self._actor: str | None = None

    def alias_state(self) -> AliasState:
        return self.alias.state()

    def version_info(self, version: str) -> ReleaseInfo:
        """Any published version of the function, whether it pins a model or not."""
        return self.alias.version_info(version)

    def release(self, version: str) -> ReleaseInfo:
        """A published version that pins a model; anything else is not a release."""
        if not version.isdigit():
            raise ReleaseNotFound(f"{version!r} is not a published Lambda version number")
        info = self.version_info(version)
        if not info.model_version or not info.model_name:
            raise ReleaseNotFound(
                f"{self.target.function_name} version {version} pins no model; "
                "create one with `modelship release create`"
            )
        return info

    def status(
        self,
        sfn: Any = None,
        state_machine_arn: str | None = None,
        retrain_state_machine_arn: str | None = None,
    ) -> Status:
        """The alias, its releases and alarms, the candidate's last verdict; with `sfn`, the
        rollouts and retraining runs (they canary their challenger) running or recently
        failed, with the cause."""
        state = self.alias_state()
        candidate = self.version_info(state.candidate) if state.candidate else None
        verdict = self.history.last_verdict(candidate.version) if candidate else None
        machines: dict[Kind, str] = {}
        if state_machine_arn:
            machines["release"] = state_machine_arn
        if retrain_state_machine_arn:
            machines["retraining"] = retrain_state_machine_arn
        runs = rollout_runs(sfn, machines, clock=self.clock) if sfn is not None else []
        return Status(
            function_name=self.target.function_name,
            alias=self.target.alias,
            stable=self.version_info(state.stable),
            candidate=candidate,
            candidate_weight=state.candidate_weight,
            alarms=canary_alarms.alarm_states(self.cloudwatch, self.target.function_name),
            rollouts=runs,
            verdict=VerdictSummary.of(verdict) if verdict is not None else None,
        )

    def latest_created(self) -> str:
        """The Lambda version of the most recent `release create`."""
        for record in self.history.newest_first():
            if record.action == "create" and record.to_version:
                return record.to_version
        raise ReleaseNotFound(
            f"no release of {self.target.function_name} in the history; "
            "run `modelship release create` first"
        )

    def create(
        self,
        model_version: str = "latest",
        *,
        model_name: str | None = None,
        expected_sha256: str | None = None,
        allow_schema_change: bool = False,
        reason: str = "",
    ) -> tuple[ReleaseInfo, HistoryRecord]:
        """Checks the model version, pins it in the function's configuration and publishes a
        version. Refuses (IncompatibleRelease) before changing anything if the artifact,
        scikit-learn version or feature schema does not fit."""
        function = self.target.function_name
        config = self.alias.configuration()
        env: dict[str, str] = dict((config.get("Environment") or {}).get("Variables") or {})
        pinned_name = env.get(names.ENV_MODEL_NAME, "")
        name = model_name or pinned_name
        if not name:
            raise IncompatibleRelease(f"{function} has no {names.ENV_MODEL_NAME}; pass --model")
        if pinned_name and name != pinned_name:
            raise IncompatibleRelease(
                f"{function} serves model {pinned_name}, not {name}; a function serves one model"
            )
        bucket = env.get(names.ENV_MODEL_BUCKET) or self.target.bucket
        registry = Registry(self.s3, bucket)
        manifest = registry.show(name, registry.resolve(name, model_version))
        check_artifact(self.s3, registry, manifest, expected_sha256)
        check_runtime(function, env, manifest)
        state = self.alias_state()
        stable = self.version_info(state.stable)
        if stable.model_version and not allow_schema_change:
            check_schema(registry, stable, manifest)

        info = self.alias.publish_model(config, manifest)
        record = self.record(
            "create",
            state,
            state,
            from_version=state.stable,
            to_version=info.version,
            from_model=stable.model_version or None,
            to_model=manifest.version,
            reason=reason,
        )
        return info, record

    def start_canary(
        self,
        weight: float,
        candidate: str | None = None,
        *,
        force: bool = False,
        reason: str = "",
        execution: str | None = None,
    ) -> Outcome:
        """Routes `weight` of the alias to `candidate`. `execution` is the state machine
        execution that does it, if any: it owns the canary (see `rollback.abort_rollout`)."""
        weight = check_weight(weight)
        state = self.alias_state()
        version = candidate or self.latest_created()
        info = self.release(version)
        if version == state.stable:
            raise CanaryInProgress(
                f"version {version} is already the stable release of {self.target.alias}",
                reason="already_stable",
            )
        stable = self.version_info(state.stable)
        if info.model_version == stable.model_version:
            raise IncompatibleRelease(
                f"version {version} serves the same model ({info.model_version}) as the stable "
                "release, so its guardrails could not tell the two apart",
                reason="same_model",
            )
        if state.candidate is not None and not force:
            raise CanaryInProgress(
                f"a canary of version {state.candidate} is running at "
                f"{state.candidate_weight:.0%}; shift, promote or roll it back first "
                "(or pass --force to replace it)"
            )
        canary_alarms.create_canary_alarms(
            self.cloudwatch,
            self.target.function_name,
            version,
            model_name=info.model_name,
            model_version=info.model_version,
            thresholds=self.thresholds,
        )
        try:
            after = self.alias.route(state, state.stable, {version: weight})
        except ReleaseConflict:
            if state.candidate != version:  # guardrails of a canary that never started
                canary_alarms.delete_canary_alarms(
                    self.cloudwatch, self.target.function_name, version
                )
            raise
        if state.candidate is not None and state.candidate != version:
            canary_alarms.delete_canary_alarms(
                self.cloudwatch, self.target.function_name, state.candidate
            )
        record = self.record(
            "canary_start",
            state,
            after,
            from_version=state.stable,
            to_version=version,
            from_model=stable.model_version or None,
            to_model=info.model_version,
            reason=reason,
            execution=execution,
        )
        return Outcome(
            "canary_start",
            True,
            record,
            f"canary {info.label()} at {weight:.1%} of {self.target.alias}",
        )

    def shift(
        self,
        weight: float,
        *,
        candidate: str | None = None,
        reason: str = "",
        execution: str | None = None,
    ) -> Outcome:
        weight = check_weight(weight)
        state = self.alias_state()
        current = self._require_canary(state, candidate)
        if state.candidate_weight == weight and not self._adopts(current, execution):
            return Outcome(
                "canary_shift", False, None, f"version {current} is already at {weight:.1%}"
            )
        after = self.alias.route(state, state.stable, {current: weight})
        record = self.record(
            "canary_shift",
            state,
            after,
            from_version=state.stable,
            to_version=current,
            reason=reason,
            execution=execution,
        )
        return Outcome(
            "canary_shift", True, record, f"canary version {current} now at {weight:.1%}"
        )

    def promote(
        self,
        *,
        candidate: str | None = None,
        direct: bool = False,
        reason: str = "",
        execution: str | None = None,
    ) -> Outcome:
        """Makes the canary's candidate the stable release and clears the weights. With
        `direct` and no canary, promotes `candidate` straight away (e.g. the first release)."""
        state = self.alias_state()
        if candidate is not None and state.candidate is None and state.stable == candidate:
            return Outcome("promote", False, None, f"version {candidate} is already stable")
        if direct and candidate is not None and state.candidate is None:
            current = candidate
        else:
            current = self._require_canary(state, candidate)
        info = self.release(current)
        stable = self.version_info(state.stable)
        after = self.alias.route(state, current, {})
        canary_alarms.delete_canary_alarms(self.cloudwatch, self.target.function_name, current)
        record = self.record(
            "promote",
            state,
            after,
            from_version=state.stable,
            to_version=current,
            from_model=stable.model_version or None,
            to_model=info.model_version,
            reason=reason,
            execution=execution,
        )
        return Outcome("promote", True, record, f"promoted {info.label()}; weights cleared")

    def _adopts(self, candidate: str, execution: str | None) -> bool:
        """A rollout whose step finds its candidate already at the step's weight (started
        by hand, or by another execution) takes the canary over: recorded, so that its
        abandonment clears it."""
        if execution is None:
            return False
        owner = self.history.canary_owner(candidate)
        return owner is None or owner.execution != execution

    def check_guardrails(self, candidate: str) -> list[AlarmState]:
        """Raises GuardrailTripped if a canary alarm of `candidate` or a static alarm fires."""
        return canary_alarms.check_guardrails(self.cloudwatch, self.target.function_name, candidate)

    def _require_canary(self, state: AliasState, candidate: str | None) -> str:
        if state.candidate is None:
            raise NoCanary(
                f"no canary on {self.target.alias}; start one with `modelship canary start`"
            )
        if candidate is not None and candidate != state.candidate:
            raise CanaryInProgress(
                f"the canary on {self.target.alias} is version {state.candidate}, not {candidate}"
            )
        return state.candidate

    def actor(self) -> str:
        if self._actor is None:
            self._actor = str(self.sts.get_caller_identity()["Arn"])
        return self._actor

    def record(
        self,
        action: Action,
        before: AliasState,
        after: AliasState,
        **fields: Any,
    ) -> HistoryRecord:
        """Appends the change from `before` to `after` to the release history."""
        record = HistoryRecord(
            action=action,
            time=self.clock(),
            actor=self.actor(),
            function_name=self.target.function_name,
            alias=self.target.alias,
            weights_before=before.weights,
            weights_after=after.weights,
            **fields,
        )
        self.history.append(record)
        return record
