"""Shadow releases: a published release that predicts on a sample of live requests without
answering them.

`start_shadow` writes the model's shadow state (`names.shadow_state_key`), which the serving
versions read to mirror a sample of their predict requests to the shadow's Lambda version;
`shadow_report` reads how the shadow agreed with the served answers so far; `stop_shadow`
deletes the state and keeps the final report, write-once, under
`names.shadow_reports_prefix`; `promote_shadow` stops it and starts a canary of its version.
Starting and stopping are recorded in the release history (shadow_start, shadow_stop).

The alias is never touched by a shadow: users only ever get the served answer.
"""

from __future__ import annotations

from datetime import datetime

from botocore.exceptions import ClientError

from modelship import names
from modelship.errors import (
    CanaryInProgress,
    InvalidShadow,
    InvalidWeight,
    NoShadow,
    ShadowAlreadyRunning,
    ShadowNotPromotable,
)
from modelship.releases.models import Outcome
from modelship.releases.plan import parse_weight
from modelship.releases.releases import Releases, check_weight
from modelship.releases.shadow_agreement import ShadowReport, read_report
from modelship.serving.shadow_state import ShadowState

# `shadow promote` refuses, unless forced, a shadow that answered nothing, failed more than
# this share of its requests, or agreed with the served labels on fewer than this share of
# rows: each is a reason to look before users see the model (docs/releases.md).
PROMOTE_MAX_ERROR_RATE = 0.01
PROMOTE_MIN_AGREEMENT = 0.90
DEFAULT_PROMOTE_WEIGHT = 0.05
_CONDITION_FAILED = {"PreconditionFailed", "ConditionalRequestConflict"}


# PutFunctionEventInvokeConfig takes 60 to 21600 seconds.
SHADOW_MAX_EVENT_AGE_SECONDS = 60


def parse_sample(text: str) -> float:
    """`--sample` as given: `20%` or `0.2` (the weight rules), in (0, 1]."""
    try:
        value = parse_weight(text)
    except InvalidWeight:
        raise InvalidShadow(
            f"sample {text!r} is not a share like 20% or 0.2", reason="invalid_sample_rate"
        ) from None
    return check_sample(value)


def check_sample(sample_rate: float) -> float:
    if not 0.0 < sample_rate <= 1.0:  # NaN fails too
        raise InvalidShadow(
            f"the sample rate must be in (0, 1] (e.g. 0.2 or 20%), got {sample_rate:g}",
            reason="invalid_sample_rate",
        )
    return sample_rate


def model_name(releases: Releases) -> str:
    """The model the function serves: the stable release's, else $LATEST's MODEL_NAME."""
    stable = releases.version_info(releases.alias_state().stable)
    if stable.model_name:
        return stable.model_name
    env = (releases.alias.configuration().get("Environment") or {}).get("Variables") or {}
    name = str(env.get(names.ENV_MODEL_NAME, ""))
    if not name:
        raise NoShadow(f"{releases.target.function_name} serves no model yet, so it has no shadow")
    return name


def current_shadow(releases: Releases, model: str | None = None) -> ShadowState | None:
    """The model's running shadow, or None. Unlike the serving side's read, an AccessDenied
    is raised: an operator who may not read the state must not be told no shadow runs."""
    key = names.shadow_state_key(model or model_name(releases))
    try:
        body = releases.s3.get_object(Bucket=releases.target.bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    return ShadowState.parse(body)


def _running(releases: Releases) -> ShadowState:
    state = current_shadow(releases)
    if state is None:
        raise NoShadow(
            f"no shadow is running for {releases.target.function_name}; start one with "
            "`modelship shadow start --version N --sample 20%`"
        )
    return state


def _describe(state: ShadowState) -> str:
    return (
        f"version {state.lambda_version} ({state.model} {state.model_version}) at "
        f"{state.sample_rate:.0%} since {state.started_at:%Y-%m-%dT%H:%M:%SZ} by {state.started_by}"
    )


def start_shadow(
    releases: Releases, version: str, sample_rate: float, *, reason: str = ""
) -> ShadowState:
    """Starts mirroring `sample_rate` of the model's predict requests to release `version`.
    Refuses a version that is not a release, the stable one or its model, the canary's
    candidate, and a second shadow (the state is written only if none exists)."""
    check_sample(sample_rate)
    info = releases.release(version)
    alias = releases.alias_state()
    stable = releases.version_info(alias.stable)
    running = current_shadow(releases, info.model_name)
    if running is not None:
        raise ShadowAlreadyRunning(f"a shadow is already running: {_describe(running)}")
    if version == alias.stable:
        raise InvalidShadow(
            f"version {version} is the stable release: it answers every request already",
            reason="already_stable",
        )
    if version == alias.candidate:
        raise InvalidShadow(
            f"version {version} is the canary's candidate at {alias.candidate_weight:.1%}: it "
            "answers real users already",
            reason="canary_candidate",
        )
    if info.model_version == stable.model_version:
        raise InvalidShadow(
            f"version {version} serves the same model ({info.model_version}) as the stable "
            "release: there is nothing to compare",
            reason="same_model",
        )
    state = ShadowState(
        model=info.model_name,
        lambda_version=info.version,
        model_version=info.model_version,
        sample_rate=sample_rate,
        started_at=releases.clock(),
        started_by=releases.actor(),
    )
    # Mirrors are invoked asynchronously: a throttled or failed one is not worth Lambda's
    # default of two retries over up to six hours (a stale mirror compares nothing useful).
    releases.alias.lambda_.put_function_event_invoke_config(
        FunctionName=releases.target.function_name,
        Qualifier=info.version,
        MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=SHADOW_MAX_EVENT_AGE_SECONDS,
    )
    key = names.shadow_state_key(state.model)
    try:
        releases.s3.put_object(
            Bucket=releases.target.bucket,
            Key=key,
            Body=state.body(),
            IfNoneMatch="*",
            ContentType="application/json",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _CONDITION_FAILED:
            raise
        other = current_shadow(releases, state.model)
        raise ShadowAlreadyRunning(
            "another shadow was started meanwhile"
            + (f": {_describe(other)}" if other is not None else "")
        ) from None
    releases.record(
        "shadow_start",
        alias,
        alias,
        from_version=alias.stable,
        to_version=info.version,
        from_model=stable.model_version or None,
        to_model=info.model_version,
        reason=reason,
        details={"sample_rate": sample_rate, "state_key": key},
    )
    return state


def shadow_report(
    releases: Releases, state: ShadowState, end: datetime | None = None, *, final: bool = False
) -> ShadowReport:
    """How `state`'s shadow did from its start to `end` (default now), beside the alias's
    current stable release."""
    now = releases.clock()
    alias = releases.alias_state()
    stable = releases.version_info(alias.stable)
    return read_report(
        releases.cloudwatch,
        state,
        stable_lambda_version=alias.stable,
        stable_model_version=stable.model_version,
        end=end or now,
        now=now,
        final=final,
    )


def report_key(report: ShadowReport) -> str:
    """Where a stopped shadow's final report is kept: one key per shadow started."""
    return (
        f"{names.shadow_reports_prefix(report.model)}"
        f"{report.start:%Y%m%dT%H%M%S.%fZ}-v{report.lambda_version}.json"
    )


def stop_shadow(releases: Releases, *, reason: str = "") -> ShadowReport:
    """Stops the running shadow: its final report is written (write-once), then the state is
    deleted and the stop recorded with the report as details."""
    state = _running(releases)
    return _finish(releases, state, shadow_report(releases, state, final=True), reason)


def _finish(
    releases: Releases, state: ShadowState, report: ShadowReport, reason: str
) -> ShadowReport:
    """Report first (write-once), then the state, then the record: a stop that failed after
    the report finds it on the next try, keeps it and finishes the rest."""
    bucket, key = releases.target.bucket, report_key(report)
    try:
        releases.s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=report.model_dump_json().encode(),
            IfNoneMatch="*",
            ContentType="application/json",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in _CONDITION_FAILED:
            raise
        if current_shadow(releases, state.model) != state:
            raise NoShadow(
                f"the shadow of version {state.lambda_version} was stopped meanwhile; its "
                f"report is s3://{bucket}/{key}"
            ) from None
        stored = releases.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        report = ShadowReport.model_validate_json(stored)
    releases.s3.delete_object(
        Bucket=releases.target.bucket, Key=names.shadow_state_key(state.model)
    )
    alias = releases.alias_state()
    releases.record(
        "shadow_stop",
        alias,
        alias,
        from_version=report.stable_lambda_version,
        to_version=state.lambda_version,
        from_model=report.stable_model_version or None,
        to_model=state.model_version,
        reason=reason,
        details=report.model_dump(mode="json"),
    )
    return report


def promotion_concerns(report: ShadowReport) -> list[str]:
    """Why the report does not yet make the case for exposing users to the shadow's model."""
    concerns: list[str] = []
    if not report.requests:
        concerns.append("the shadow answered no requests: there is nothing to judge")
    if report.error_rate is not None and report.error_rate > PROMOTE_MAX_ERROR_RATE:
        concerns.append(
            f"the shadow failed {report.error_rate:.2%} of its requests "
            f"(more than {PROMOTE_MAX_ERROR_RATE:.0%})"
        )
    if report.agreement is not None and report.agreement < PROMOTE_MIN_AGREEMENT:
        concerns.append(
            f"the shadow agreed with the served answer on {report.agreement:.2%} of rows "
            f"(less than {PROMOTE_MIN_AGREEMENT:.0%})"
        )
    return concerns


def promote_shadow(
    releases: Releases,
    *,
    weight: float = DEFAULT_PROMOTE_WEIGHT,
    force: bool = False,
    reason: str = "",
) -> tuple[ShadowReport, Outcome]:
    """Stops the shadow with its final report and starts a canary of its version at `weight`.
    Refuses before changing anything when a canary runs, or (unless `force`) when the report
    raises a concern (`promotion_concerns`)."""
    weight = check_weight(weight)
    state = _running(releases)
    alias = releases.alias_state()
    if alias.candidate is not None:
        raise CanaryInProgress(
            f"a canary of version {alias.candidate} is running at {alias.candidate_weight:.0%}; "
            "promote or roll it back before promoting the shadow"
        )
    report = shadow_report(releases, state, final=True)
    concerns = promotion_concerns(report)
    if concerns and not force:
        raise ShadowNotPromotable(
            f"shadow version {state.lambda_version} not promoted: {'; '.join(concerns)} "
            "(pass --force to promote it anyway)"
        )
    _finish(releases, state, report, reason or "promoted to a canary")
    outcome = releases.start_canary(
        weight, state.lambda_version, reason=reason or "promoted from a shadow"
    )
    return report, outcome
