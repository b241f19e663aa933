"""Releases of the predict function: create, canary, shift, promote, roll back, status.

A release is a published Lambda version whose environment pins MODEL_NAME / MODEL_VERSION /
MODEL_SHA256. The alias (`live`) is the only routing state: its FunctionVersion is the
stable release and its one AdditionalVersionWeights entry is the candidate. Every change
reads the function or alias first and writes with that RevisionId, so two operators cannot
interleave; Lambda answers PreconditionFailed to the slower one (ReleaseConflict).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from modelship import names
from modelship.errors import (
    CanaryInProgress,
    GuardrailTripped,
    IncompatibleRelease,
    InvalidWeight,
    ModelNotFound,
    NoCanary,
    NotAnEarlierRelease,
    NothingToRollBack,
    ReleaseConflict,
    ReleaseError,
    ReleaseNotFound,
)
from modelship.registry.manifest import Manifest
from modelship.registry.registry import Registry, artifact_key
from modelship.releases import canary_alarms as guardrails
from modelship.releases.canary_alarms import AlarmState, GuardrailThresholds
from modelship.releases.history import Action, HistoryRecord, ReleaseHistory
from modelship.releases.rollout_runs import Kind, RolloutRun, rollout_runs

logger = logging.getLogger(__name__)

_CONFLICT_CODES = {"PreconditionFailedException", "ResourceConflictException"}


@dataclass(frozen=True)
class ReleaseTarget:
    """Which function, alias and history bucket the release commands act on."""

    function_name: str
    alias: str
    bucket: str


@dataclass(frozen=True)
class ReleaseInfo:
    """A published Lambda version and the model it pins."""

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


@dataclass(frozen=True)
class Status:
    function_name: str
    alias: str
    stable: ReleaseInfo
    candidate: ReleaseInfo | None
    candidate_weight: float
    alarms: list[AlarmState]
    rollouts: list[RolloutRun] = field(default_factory=list)

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
        }


@dataclass(frozen=True)
class Outcome:
    """What an action did; `changed` is False when it found nothing to do (idempotent)."""

    action: str
    changed: bool
    record: HistoryRecord | None
    message: str


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


def _is_conflict(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in _CONFLICT_CODES


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
    ) -> None:
        self.target = target
        self.lambda_ = lambda_client
        self.s3 = s3
        self.cloudwatch = cloudwatch
        self.sts = sts
        self.thresholds = thresholds or GuardrailThresholds()
        self.clock = clock
        self.post_promotion_guard = post_promotion_guard
        self.history = ReleaseHistory(s3, target.bucket, target.function_name)
        self._actor: str | None = None

    def alias_state(self) -> AliasState:
        alias = self.lambda_.get_alias(
            FunctionName=self.target.function_name, Name=self.target.alias
        )
        routing = alias.get("RoutingConfig") or {}
        weights = {
            str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()
        }
        return AliasState(str(alias["FunctionVersion"]), weights, alias.get("RevisionId"))

    def release_info(self, version: str) -> ReleaseInfo:
        try:
            config = self.lambda_.get_function_configuration(
                FunctionName=self.target.function_name, Qualifier=version
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise ReleaseNotFound(
                    f"{self.target.function_name} has no version {version}"
                ) from None
            raise
        env = (config.get("Environment") or {}).get("Variables") or {}
        return ReleaseInfo(
            version=str(config.get("Version", version)),
            model_name=env.get(names.ENV_MODEL_NAME, ""),
            model_version=env.get(names.ENV_MODEL_VERSION, ""),
            model_sha256=env.get(names.ENV_MODEL_SHA256, ""),
            description=config.get("Description", ""),
        )

    def release(self, version: str) -> ReleaseInfo:
        """A published version that pins a model; anything else is not a release."""
        if not version.isdigit():
            raise ReleaseNotFound(f"{version!r} is not a published Lambda version number")
        info = self.release_info(version)
        if not info.model_version:
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
        """The alias, its releases and alarms; with `sfn`, the rollouts and retraining runs
        (they canary their challenger) running or recently failed, with the cause."""
        state = self.alias_state()
        candidate = self.release_info(state.candidate) if state.candidate else None
        machines: dict[Kind, str] = {}
        if state_machine_arn:
            machines["release"] = state_machine_arn
        if retrain_state_machine_arn:
            machines["retraining"] = retrain_state_machine_arn
        runs = rollout_runs(sfn, machines, clock=self.clock) if sfn is not None else []
        return Status(
            function_name=self.target.function_name,
            alias=self.target.alias,
            stable=self.release_info(state.stable),
            candidate=candidate,
            candidate_weight=state.candidate_weight,
            alarms=guardrails.alarm_states(self.cloudwatch, self.target.function_name),
            rollouts=runs,
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
        config = self.lambda_.get_function_configuration(FunctionName=function)
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
        self._check_artifact(registry, manifest, expected_sha256)
        self._check_runtime(env, manifest)
        state = self.alias_state()
        stable = self.release_info(state.stable)
        if stable.model_version and not allow_schema_change:
            self._check_schema(registry, stable, manifest)

        env.update(
            {
                names.ENV_MODEL_NAME: manifest.name,
                names.ENV_MODEL_VERSION: manifest.version,
                names.ENV_MODEL_SHA256: manifest.artifact.sha256,
            }
        )
        description = (
            f"{names.RELEASE_DESCRIPTION_PREFIX} {manifest.name} {manifest.version} "
            f"sha256:{manifest.artifact.sha256[:12]}"
        )
        try:
            update_args: dict[str, Any] = {
                "FunctionName": function,
                "Environment": {"Variables": env},
            }
            if config.get("RevisionId"):
                update_args["RevisionId"] = config["RevisionId"]
            self.lambda_.update_function_configuration(**update_args)
            self._wait_updated()
            updated = self.lambda_.get_function_configuration(FunctionName=function)
            publish_args: dict[str, Any] = {"FunctionName": function, "Description": description}
            if updated.get("RevisionId"):
                publish_args["RevisionId"] = updated["RevisionId"]
            published = self.lambda_.publish_version(**publish_args)
            self._wait_active(str(published["Version"]))
        except ClientError as exc:
            if _is_conflict(exc):
                raise ReleaseConflict(
                    f"{function} was changed by someone else while releasing "
                    f"{manifest.name} {manifest.version}; check `modelship status` and retry"
                ) from None
            raise
        info = self.release_info(str(published["Version"]))
        if (info.model_version, info.model_sha256) != (manifest.version, manifest.artifact.sha256):
            raise ReleaseConflict(
                f"version {info.version} of {function} does not pin {manifest.version}: the "
                "configuration changed between update and publish; retry"
            )
        record = self._record(
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

    def _check_artifact(
        self, registry: Registry, manifest: Manifest, expected_sha256: str | None
    ) -> None:
        if expected_sha256 and expected_sha256.lower() != manifest.artifact.sha256:
            raise IncompatibleRelease(
                f"{manifest.name} {manifest.version} has sha256 {manifest.artifact.sha256}, "
                f"not the expected {expected_sha256}"
            )
        key = artifact_key(manifest.name, manifest.version)
        try:
            head = self.s3.head_object(Bucket=registry.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise ModelNotFound(
                    f"{manifest.name} {manifest.version} has a manifest but no artifact at "
                    f"s3://{registry.bucket}/{key}"
                ) from None
            raise
        stored = (head.get("Metadata") or {}).get("sha256")
        size = head.get("ContentLength")
        if stored != manifest.artifact.sha256 or size != manifest.artifact.size_bytes:
            raise IncompatibleRelease(
                f"artifact s3://{registry.bucket}/{key} does not match its manifest "
                f"(stored sha256 {str(stored)[:12]}..., {size} bytes; manifest says "
                f"{manifest.artifact.sha256[:12]}..., {manifest.artifact.size_bytes} bytes)"
            )

    def _check_runtime(self, env: dict[str, str], manifest: Manifest) -> None:
        layer = env.get(names.ENV_LAYER_SKLEARN_VERSION, "")
        if not layer:
            raise IncompatibleRelease(
                f"{self.target.function_name} does not declare {names.ENV_LAYER_SKLEARN_VERSION}, "
                "so the model's scikit-learn version cannot be checked; redeploy the stack"
            )
        if manifest.runtime.sklearn != layer:
            raise IncompatibleRelease(
                f"{manifest.name} {manifest.version} was pickled with scikit-learn "
                f"{manifest.runtime.sklearn}; the function's layer has {layer}. Retrain with "
                f"scikit-learn {layer} or rebuild the layer",
                reason="incompatible_sklearn",
            )

    def _check_schema(self, registry: Registry, stable: ReleaseInfo, candidate: Manifest) -> None:
        """Requests valid for the stable model must stay valid: same features in the same
        order with the same types, and no allowed category dropped."""
        try:
            current = registry.show(stable.model_name, stable.model_version)
        except ModelNotFound:
            logger.warning("stable model %s is gone from the registry", stable.model_version)
            return
        old = [(f.name, f.kind, f.dtype) for f in current.features]
        new = [(f.name, f.kind, f.dtype) for f in candidate.features]
        if old != new:
            raise IncompatibleRelease(
                f"{candidate.version} expects features {_features(new)} but the stable "
                f"release ({current.version}) takes {_features(old)}; callers would break. "
                "Pass --allow-schema-change if the callers have changed",
                reason="schema_changed",
            )
        for before, after in zip(current.features, candidate.features, strict=True):
            dropped = set(before.categories or ()) - set(after.categories or ())
            if dropped:
                raise IncompatibleRelease(
                    f"{candidate.version} no longer accepts {sorted(dropped)} for "
                    f"{before.name!r}, which the stable release accepts",
                    reason="schema_changed",
                )

    def _wait_updated(self) -> None:
        waiter = self.lambda_.get_waiter("function_updated_v2")
        try:
            waiter.wait(
                FunctionName=self.target.function_name,
                WaiterConfig={"Delay": 2, "MaxAttempts": 150},
            )
        except WaiterError as exc:
            raise ReleaseError(
                f"{self.target.function_name} configuration update did not succeed: {exc}"
            ) from None

    def _wait_active(self, version: str) -> None:
        """With SnapStart a new version stays Pending while Lambda takes its snapshot, and
        routing traffic to it fails (SnapStartNotReadyException): wait for Active. The
        waiter calls GetFunctionConfiguration with the version as qualifier."""
        waiter = self.lambda_.get_waiter("published_version_active")
        try:
            waiter.wait(
                FunctionName=self.target.function_name,
                Qualifier=version,
                WaiterConfig={"Delay": 2, "MaxAttempts": 300},
            )
        except WaiterError as exc:
            raise ReleaseError(
                f"{self.target.function_name} version {version} did not become Active: {exc}"
            ) from None

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
        execution that does it, if any: it owns the canary (see `abort_rollout`)."""
        weight = check_weight(weight)
        state = self.alias_state()
        version = candidate or self.latest_created()
        info = self.release(version)
        if version == state.stable:
            raise CanaryInProgress(
                f"version {version} is already the stable release of {self.target.alias}",
                reason="already_stable",
            )
        stable = self.release_info(state.stable)
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
        guardrails.create_canary_alarms(
            self.cloudwatch, self.target.function_name, version, info.model_version, self.thresholds
        )
        try:
            after = self._update_alias(state, state.stable, {version: weight})
        except ReleaseConflict:
            if state.candidate != version:  # guardrails of a canary that never started
                guardrails.delete_canary_alarms(self.cloudwatch, self.target.function_name, version)
            raise
        if state.candidate is not None and state.candidate != version:
            guardrails.delete_canary_alarms(
                self.cloudwatch, self.target.function_name, state.candidate
            )
        record = self._record(
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
        after = self._update_alias(state, state.stable, {current: weight})
        record = self._record(
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
        stable = self.release_info(state.stable)
        after = self._update_alias(state, current, {})
        guardrails.delete_canary_alarms(self.cloudwatch, self.target.function_name, current)
        record = self._record(
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

    def rollback(self, *, to: str | None = None, reason: str = "") -> Outcome:
        """Clears a canary; with no canary, undoes the last promotion; `to` picks any earlier
        release instead (not a newer one: moving forward is a promotion)."""
        state = self.alias_state()
        if to is not None:
            target = self.release(to)
            if int(target.version) > int(state.stable):
                raise NotAnEarlierRelease(
                    f"version {to} is newer than the stable release {state.stable} of "
                    f"{self.target.alias}; to move forward, canary it or run "
                    f"`modelship promote --version {to}`"
                )
            if to == state.stable and state.candidate is None:
                return Outcome("rollback", False, None, f"version {to} is already stable")
            return self._roll_to(state, target.version, reason=reason)
        if state.candidate is not None:
            return self._clear_canary(state, reason=reason)
        previous = self._promoted_from(state.stable)
        if previous is None:
            raise NothingToRollBack(
                f"no canary on {self.target.alias} and no recorded promotion to version "
                f"{state.stable}; pass --to VERSION to choose a release"
            )
        return self._roll_to(state, previous, reason=reason)

    def rollback_on_alarm(self, alarm_name: str, alarm_reason: str = "") -> Outcome:
        """What the rollback function does for an alarm in ALARM. Only ever clears the canary
        (the alias stays on the stable release) or, within the post-promotion guard window,
        returns to the release recorded before the promotion; repeated or late alarms find
        nothing to do."""
        function = self.target.function_name
        if not alarm_name.startswith(guardrails.alarm_prefix(function)):
            return Outcome(
                "rollback", False, None, f"{alarm_name} is not a guardrail of {function}"
            )
        state = self.alias_state()
        guarded = guardrails.canary_version_of(alarm_name, function)
        reason = f"alarm {alarm_name}: {alarm_reason}".strip().rstrip(":")
        if state.candidate is not None:
            if guarded is not None and guarded != state.candidate:
                return Outcome(
                    "rollback",
                    False,
                    None,
                    f"{alarm_name} guards version {guarded}, not the current candidate "
                    f"{state.candidate}; ignored",
                )
            return self._clear_canary(state, reason=reason, alarm=alarm_name)
        if guarded is not None:
            return Outcome("rollback", False, None, f"no canary on {self.target.alias}; ignored")
        promotion = self._promotion_of(state.stable)
        if (
            promotion is None
            or not promotion.from_version
            or self.clock() - promotion.time > self.post_promotion_guard
        ):
            return Outcome(
                "rollback", False, None, f"no canary and no recent promotion; {alarm_name} ignored"
            )
        cleared = self._canary_cleared_since(promotion.time)
        if cleared is not None and self.clock() - cleared.time <= self._attribution_window():
            # A failing canary trips the function-wide alarms too; those errors were the
            # canary's, already rolled back, not the promoted release's.
            return Outcome(
                "rollback",
                False,
                None,
                f"{alarm_name} fired within {self._attribution_window().seconds} s of the rollback "
                f"of canary v{cleared.from_version}; attributed to it, ignored",
            )
        return self._roll_to(state, promotion.from_version, reason=reason, alarm=alarm_name)

    def _attribution_window(self) -> timedelta:
        """How long after a canary rollback an alarm may still be counting its errors: the
        breaching period and the one in progress."""
        return timedelta(seconds=2 * self.thresholds.period_seconds)

    def _canary_cleared_since(self, since: datetime) -> HistoryRecord | None:
        for record in self.history.newest_first():
            if record.time < since:
                return None
            if record.action == "rollback" and record.from_version in record.weights_before:
                return record
        return None

    def abort_rollout(self, candidate: str | None, *, reason: str, execution: str) -> Outcome:
        """Takes the traffic a failed, stopped or timed-out `execution` gave its candidate:
        clears the canary it started or shifted, or undoes the promotion it made. Only the
        execution that owns the current routing may undo it, so a late event of an earlier
        rollout (EventBridge retries for an hour) never undoes a later canary or promotion,
        nor an operator's. `candidate` (from the execution input, when it names one) must
        match too; a retraining run's input names none, the history finds it."""
        state = self.alias_state()
        if state.candidate is not None:
            owner = self._canary_owner(state.candidate)
            if (
                owner is not None
                and owner.execution == execution
                and candidate in (None, state.candidate)
            ):
                return self._clear_canary(state, reason=reason, execution=execution)
        else:
            promotion = self._promotion_of(state.stable)
            if (
                promotion is not None
                and promotion.execution == execution
                and promotion.from_version
                and candidate in (None, state.stable)
            ):
                return self._roll_to(
                    state, promotion.from_version, reason=reason, execution=execution
                )
        return Outcome(
            "rollback",
            False,
            None,
            f"{execution.rsplit(':', 1)[-1]} does not own the current routing of "
            f"{self.target.alias}; ignored",
        )

    def _adopts(self, candidate: str, execution: str | None) -> bool:
        """A rollout whose step finds its candidate already at the step's weight (started
        by hand, or by another execution) takes the canary over: recorded, so that its
        abandonment clears it."""
        if execution is None:
            return False
        owner = self._canary_owner(candidate)
        return owner is None or owner.execution != execution

    def _canary_owner(self, candidate: str) -> HistoryRecord | None:
        """The latest record that started or shifted the canary of `candidate`."""
        for record in self.history.newest_first():
            if record.action in ("canary_start", "canary_shift") and record.to_version == candidate:
                return record
        return None

    def _clear_canary(
        self,
        state: AliasState,
        *,
        reason: str,
        alarm: str | None = None,
        execution: str | None = None,
    ) -> Outcome:
        candidate = state.candidate
        assert candidate is not None
        after = self._update_alias(state, state.stable, {})
        guardrails.delete_canary_alarms(self.cloudwatch, self.target.function_name, candidate)
        record = self._record(
            "rollback",
            state,
            after,
            from_version=candidate,
            to_version=state.stable,
            from_model=self.release_info(candidate).model_version or None,
            to_model=self.release_info(state.stable).model_version or None,
            reason=reason,
            alarm=alarm,
            execution=execution,
        )
        return Outcome(
            "rollback",
            True,
            record,
            f"canary version {candidate} cleared; stable is {state.stable}",
        )

    def _roll_to(
        self,
        state: AliasState,
        version: str,
        *,
        reason: str,
        alarm: str | None = None,
        execution: str | None = None,
    ) -> Outcome:
        after = self._update_alias(state, version, {})
        if state.candidate is not None:
            guardrails.delete_canary_alarms(
                self.cloudwatch, self.target.function_name, state.candidate
            )
        record = self._record(
            "rollback",
            state,
            after,
            from_version=state.stable,
            to_version=version,
            from_model=self.release_info(state.stable).model_version or None,
            to_model=self.release_info(version).model_version or None,
            reason=reason,
            alarm=alarm,
            execution=execution,
        )
        return Outcome(
            "rollback", True, record, f"rolled back to version {version}; weights cleared"
        )

    def _promoted_from(self, version: str) -> str | None:
        promotion = self._promotion_of(version)
        return promotion.from_version if promotion is not None else None

    def _promotion_of(self, version: str) -> HistoryRecord | None:
        """The record of the promotion that made `version` stable, if that is still the most
        recent change of the stable release."""
        for record in self.history.newest_first():
            if record.action == "promote":
                return record if record.to_version == version else None
            if record.action == "rollback" and record.from_version not in record.weights_before:
                return None  # this rollback moved the stable release (a canary's did not)
        return None

    def check_guardrails(self, candidate: str) -> list[AlarmState]:
        """Raises GuardrailTripped if a canary alarm of `candidate` or a static alarm fires."""
        states = guardrails.alarm_states(self.cloudwatch, self.target.function_name)
        firing = guardrails.firing_for(states, self.target.function_name, candidate)
        if firing:
            raise GuardrailTripped(
                "guardrail alarm in ALARM: "
                + "; ".join(f"{a.name} ({a.reason})" if a.reason else a.name for a in firing)
            )
        return states

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

    def _update_alias(
        self, state: AliasState, version: str, weights: dict[str, float]
    ) -> AliasState:
        args: dict[str, Any] = {
            "FunctionName": self.target.function_name,
            "Name": self.target.alias,
            "FunctionVersion": version,
            "RoutingConfig": {"AdditionalVersionWeights": weights},
        }
        if state.revision_id:
            args["RevisionId"] = state.revision_id
        try:
            response = self.lambda_.update_alias(**args)
        except ClientError as exc:
            if _is_conflict(exc):
                raise ReleaseConflict(
                    f"alias {self.target.alias} of {self.target.function_name} was changed by "
                    "someone else since it was read; check `modelship status` and retry"
                ) from None
            raise
        routing = response.get("RoutingConfig") or {}
        return AliasState(
            str(response.get("FunctionVersion", version)),
            {str(k): float(v) for k, v in (routing.get("AdditionalVersionWeights") or {}).items()},
            response.get("RevisionId"),
        )

    def actor(self) -> str:
        if self._actor is None:
            self._actor = str(self.sts.get_caller_identity()["Arn"])
        return self._actor

    def _record(
        self,
        action: Action,
        before: AliasState,
        after: AliasState,
        **fields: Any,
    ) -> HistoryRecord:
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


def _features(spec: Sequence[tuple[str, str, str]]) -> str:
    return "[" + ", ".join(f"{n}:{d}" for n, _, d in spec) + "]"
