"""The models of one deployment (one stack): the `models` block of the context, each model's
settings layered over the top-level keys, and which model is the default.

Without `models`, the deployment is today's single model from `modelName` and the top-level
keys. With it, every model gets the top-level keys as defaults and its own keys on top; a key
that only makes sense once per deployment, or that is not a setting at all, is refused inside
a model, naming the model and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra_cdk.drift_settings import (
    DRIFT_DEFAULTS,
    RETIRED_KEYS,
    DriftOptions,
    check_retired,
)
from infra_cdk.settings import (
    RETRAINING_DEFAULTS,
    RETRAINING_ROLLOUT_HOURS,
    RetrainingOptions,
    Settings,
    SettingsError,
)
from infra_cdk.typed_context import ContextReader, LayeredContext, TypedContext
from infra_cdk.verdict_settings import VERDICT_DEFAULTS, VerdictOptions
from modelship import names

# Set once per deployment: the stack, the alias name every release tool uses, the shared
# layer's build target, the shared API's throttling and log retention.
SHARED_KEYS = (
    "appName",
    "stage",
    "aliasName",
    "architecture",
    "runtime",
    "logRetentionDays",
    "throttleRateLimit",
    "throttleBurstLimit",
    "apiRoutesQuota",
    "captureRetentionDays",
)
# The on/off switch of a model's retraining pipeline (top level: the default for all models).
RETRAINING_SWITCH = "retraining"
MODEL_KEYS = (
    "memorySize",
    "timeout",
    "ephemeralStorageMb",
    "maxRows",
    "maxBodyBytes",
    "snapStart",
    "modelVersion",
    "modelSha256",
    "authMode",
    "jwtIssuer",
    "jwtAudience",
    "authNoneReason",
    "guardrailErrorRatePercent",
    "guardrailP99LatencyMs",
    "guardrailPeriodSeconds",
    "guardrailMinRequests",
    "guardrailThrottleRatePercent",
    "postPromotionGuardSeconds",
    "releaseTimeoutHours",
    *VERDICT_DEFAULTS,
    "captureSampleRate",
    "captureExcludeFields",
    *RETRAINING_DEFAULTS,
    RETRAINING_SWITCH,
    *DRIFT_DEFAULTS,
)
# Construct ids and CloudFormation logical ids keep only letters and digits.
_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9]")
# API Gateway HTTP APIs: 10 authorizers per API (a quota raised only through AWS Support),
# 300 integrations per API (not adjustable; one per model) and 300 routes per API (adjustable
# per API in Service Quotas: a deployment that has it raised says so with `apiRoutesQuota`).
MAX_AUTHORIZERS_PER_API = 10
MAX_INTEGRATIONS_PER_API = 300
DEFAULT_ROUTES_QUOTA = 300
# Routes of the default model (the single-model ones and its /models/<name>/ ones) and of
# every other model (infra_cdk.predict_api.ROUTES and MODEL_ROUTES; a test keeps them equal).
DEFAULT_MODEL_ROUTES = 8
MODEL_ROUTES_EACH = 4
# Lambda allows 4 KB of environment variables per function, names and values together. Every
# predict function carries DEPLOYMENT_MODELS (all model names); its other variables, with the
# longest values a release pins (bucket, model name and version, sha256), stay under 1 KB.
LAMBDA_ENVIRONMENT_BYTES = 4096
OTHER_PREDICT_VARIABLES_BYTES = 1024


@dataclass(frozen=True)
class ModelSettings:
    """One model of the deployment: its settings and, when its retraining is on, the
    retraining pipeline's options; when its data capture is on, the drift monitor's."""

    settings: Settings
    retraining: RetrainingOptions | None
    default: bool
    drift: DriftOptions | None = None
    verdict: VerdictOptions = field(default_factory=VerdictOptions)

    @property
    def name(self) -> str:
        return self.settings.model_name


@dataclass(frozen=True)
class Deployment:
    """The models of one stack, the default first, then the others in the order listed."""

    models: tuple[ModelSettings, ...]

    @property
    def default(self) -> ModelSettings:
        return self.models[0]

    @property
    def others(self) -> tuple[ModelSettings, ...]:
        return self.models[1:]

    @property
    def model_names(self) -> tuple[str, ...]:
        return tuple(model.name for model in self.models)

    @property
    def stack_name(self) -> str:
        return self.default.settings.stack_name

    @classmethod
    def from_context(cls, node: ContextReader) -> Deployment:
        check_retired(node)
        block = _models_block(node.try_get_context("models"))
        default_name = node.try_get_context("defaultModel")
        if block is None:
            settings = Settings.from_context(node)
            if default_name not in (None, "", settings.model_name):
                raise SettingsError(
                    f"context 'defaultModel' is {default_name!r}, but without a 'models' block "
                    f"the deployment has the one model 'modelName' ({settings.model_name!r})"
                )
            deployment = cls((_model(node, settings, default=True),))
            deployment._check_capture_stream()
            return deployment
        names = list(block)
        default = _default_name(names, default_name, node.try_get_context("modelName"))
        ordered = [default, *(name for name in names if name != default)]
        models = tuple(
            _layered_model(node, name, block[name], default=name == default) for name in ordered
        )
        deployment = cls(models)
        deployment._check_authorizers()
        deployment._check_api_quotas(node)
        deployment._check_environment_size()
        deployment._check_capture_stream()
        return deployment

    @property
    def route_count(self) -> int:
        return DEFAULT_MODEL_ROUTES + MODEL_ROUTES_EACH * (len(self.models) - 1)

    def _check_capture_stream(self) -> None:
        """The deployment's one capture stream is named after the stack, never cut short (two
        stacks would then share a stream)."""
        if not any(model.settings.captures for model in self.models):
            return
        stream = names.capture_stream_name(self.stack_name)
        if len(stream) > names.MAX_CAPTURE_STREAM_NAME:
            raise SettingsError(
                f"the stack name {self.stack_name!r} ('appName'-'stage') makes the data capture "
                f"stream name {stream!r} {len(stream)} characters long, over Firehose's limit "
                f"of {names.MAX_CAPTURE_STREAM_NAME}: shorten 'appName' or 'stage', or turn "
                "capture off ('captureSampleRate' 0 for every model)"
            )

    def _check_environment_size(self) -> None:
        listed = ",".join(self.model_names)
        room = LAMBDA_ENVIRONMENT_BYTES - OTHER_PREDICT_VARIABLES_BYTES
        if len(names.ENV_DEPLOYMENT_MODELS) + len(listed.encode()) > room:
            raise SettingsError(
                f"the model names take {len(listed)} characters in every predict function's "
                f"{names.ENV_DEPLOYMENT_MODELS}, past what Lambda's 4 KB of environment "
                f"variables leaves for them ({room - len(names.ENV_DEPLOYMENT_MODELS)}): use "
                "shorter model names, or split the models between two apps ('appName')"
            )

    def _check_api_quotas(self, node: ContextReader) -> None:
        """The models share one HTTP API: refused at synth, not halfway through a deploy."""
        ctx = TypedContext(node, {"apiRoutesQuota": DEFAULT_ROUTES_QUOTA}, error=SettingsError)
        quota = ctx.int("apiRoutesQuota", DEFAULT_ROUTES_QUOTA, 100_000)
        if self.route_count > quota:
            fits = 1 + (quota - DEFAULT_MODEL_ROUTES) // MODEL_ROUTES_EACH
            raise SettingsError(
                f"{len(self.models)} models need {self.route_count} routes on the deployment's "
                f"HTTP API, over its quota of {quota} ({fits} models fit): raise the API's "
                "'Routes per API' quota in Service Quotas and set context 'apiRoutesQuota' to "
                "it, or split the models between two apps ('appName')"
            )
        if len(self.models) > MAX_INTEGRATIONS_PER_API:
            raise SettingsError(
                f"{len(self.models)} models need as many integrations on the HTTP API; it "
                f"holds at most {MAX_INTEGRATIONS_PER_API} (not adjustable): split the models "
                "between two apps ('appName')"
            )

    def _check_authorizers(self) -> None:
        issuers = {
            (m.settings.jwt_issuer, m.settings.jwt_audience)
            for m in self.models
            if m.settings.auth_mode == "jwt"
        }
        if len(issuers) > MAX_AUTHORIZERS_PER_API:
            raise SettingsError(
                f"the models use {len(issuers)} different JWT issuer/audience pairs; one HTTP "
                f"API holds at most {MAX_AUTHORIZERS_PER_API} authorizers: share "
                "'jwtIssuer'/'jwtAudience' (top-level keys) between models"
            )


def _models_block(raw: Any) -> dict[str, dict[str, Any]] | None:
    if raw is None or raw == "":
        return None
    block = raw
    if isinstance(raw, str):  # -c models='{"a": {}}'
        try:
            block = json.loads(raw)
        except ValueError:
            block = None
    if not isinstance(block, dict) or not block:
        raise SettingsError(
            f"context 'models' must be a JSON object naming at least one model, got {raw!r}"
        )
    seen: dict[str, str] = {}
    for name, overrides in block.items():
        Settings.check_model_name(str(name), key=f"models.{name}")
        if not isinstance(overrides, dict):
            raise SettingsError(
                f"model {name!r}: context 'models.{name}' must be a JSON object of settings, "
                f"got {overrides!r}"
            )
        squashed = _ID_CHARACTERS.sub("", name)
        if squashed in seen:
            raise SettingsError(
                f"models {seen[squashed]!r} and {name!r} differ only in '-' or '_': their "
                "construct and CloudFormation ids would collide; rename one"
            )
        seen[squashed] = name
        _check_keys(name, overrides)
    return block


def _check_keys(name: str, overrides: Mapping[str, Any]) -> None:
    for key in overrides:
        if key in RETIRED_KEYS:
            raise SettingsError(f"model {name!r}: key {key!r} is retired: {RETIRED_KEYS[key]}")
        if key in SHARED_KEYS:
            raise SettingsError(
                f"model {name!r}: key {key!r} is shared by every model of the deployment; "
                "set it at the top level of the context, not inside 'models'"
            )
        if key not in MODEL_KEYS:
            raise SettingsError(
                f"model {name!r}: unknown key {key!r} (a model may set: {', '.join(MODEL_KEYS)})"
            )


def _default_name(names: list[str], default: Any, model_name: Any) -> str:
    if default not in (None, ""):
        if default not in names:
            raise SettingsError(
                f"context 'defaultModel' {default!r} is not one of the models: {', '.join(names)}"
            )
        return str(default)
    if model_name in names:
        return str(model_name)
    return names[0]


def _layered_model(
    node: ContextReader, name: str, overrides: Mapping[str, Any], *, default: bool
) -> ModelSettings:
    layered = LayeredContext(node, {**overrides, "modelName": name})
    try:
        return _model(layered, Settings.from_context(layered), default=default)
    except SettingsError as exc:
        raise type(exc)(f"model {name!r}: {exc}") from None


def _model(node: ContextReader, settings: Settings, *, default: bool) -> ModelSettings:
    switch = TypedContext(node, {RETRAINING_SWITCH: True}, error=SettingsError)
    retraining = RetrainingOptions.from_context(node) if switch.switch(RETRAINING_SWITCH) else None
    # The drift monitor judges captured rows: none without data capture.
    drift = DriftOptions.from_context(node) if settings.captures else None
    verdict = VerdictOptions.from_context(node)
    verdict.check_release_timeout(settings.release_timeout_hours)
    if retraining is not None:
        verdict.check_plan("releasePlan", retraining.release_plan, RETRAINING_ROLLOUT_HOURS)
    return ModelSettings(settings, retraining, default, drift, verdict)
