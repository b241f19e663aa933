"""One model's resources: predict function and `live` alias, its routes on the shared API,
release and rollback functions, release state machine, guardrails, the drift monitor (when
data capture is on), retraining (when on), its dashboard and its entry in the deployment's
model directory (an SSM parameter).

The default model's are built into the parent stack at the construct paths a single-model
deployment always had; every other model's into its own nested stack (`ModelStack`), whose
construct id comes from the model's name alone, so adding or removing a model moves no other.
Names are derived from the deployment's stack name (`SharedResources.stack_name`), never from
Stack.of(...).stack_name, which in a nested stack is its own generated name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations, Duration, NestedStack, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra_cdk.dashboard import ModelDashboard
from infra_cdk.data_capture import CaptureStream
from infra_cdk.deployment import ModelSettings
from infra_cdk.drift_monitor import DriftMonitor
from infra_cdk.guardrails import Guardrails
from infra_cdk.predict_api import PredictApi
from infra_cdk.predict_service import PredictService
from infra_cdk.release_machine import ReleaseFunctions, ReleaseMachine
from infra_cdk.resource_names import release_log_group_name
from infra_cdk.retraining import RetrainingPipeline
from infra_cdk.settings import RetrainingOptions
from infra_cdk.task_function import FunctionRuntime
from modelship import names


@dataclass(frozen=True)
class SharedResources:
    """What every model of the deployment uses: created once, in the parent stack. The code
    directories are staged once; each stack makes its own Code assets from them."""

    stack_name: str
    model_names: tuple[str, ...]  # the default first
    bucket: s3.IBucket
    runtime: FunctionRuntime
    api: PredictApi
    predict_source: Path
    release_source: Path
    retraining_source: Callable[[RetrainingOptions], Path]
    # Staged on first use: only a deployment with data capture on has a drift monitor.
    monitor_source: Callable[[], Path]
    capture: CaptureStream | None = None  # the deployment's capture stream, if any model captures


def model_stack_id(model_name: str) -> str:
    return f"Model-{model_name}"


class ModelResources:
    """Builds one model's resources into `scope`: the parent stack for the default model,
    else the model's nested stack."""

    def __init__(self, scope: Construct, model: ModelSettings, shared: SharedResources) -> None:
        settings, runtime = model.settings, shared.runtime
        self.model = model
        self.predict = PredictService(
            scope,
            "PredictService",
            settings=settings,
            bucket=shared.bucket,
            base=runtime.with_code(shared.predict_source),
            deployment_models=shared.model_names,
            capture_stream=(
                shared.capture.stream_name if shared.capture and settings.captures else ""
            ),
        )
        self.function, self.alias = self.predict.function, self.predict.alias
        if shared.capture is not None and settings.captures:
            shared.capture.grant_put(self.function)
        if model.default:
            shared.api.add_default_routes(settings, self.alias)
        else:
            shared.api.add_model_routes(Construct(scope, "Routes"), settings, self.alias)
        self.release_functions = ReleaseFunctions(
            scope,
            "Releases",
            function=self.function,
            alias=self.alias,
            bucket=shared.bucket,
            base=runtime.with_code(shared.release_source),
            error_rate_percent=settings.guardrail_error_rate_percent,
            p99_latency_ms=settings.guardrail_p99_latency_ms,
            guardrail_period_seconds=settings.guardrail_period_seconds,
            post_promotion_guard_seconds=settings.post_promotion_guard_seconds,
            verdict_environment=model.verdict.environment(),
        )
        self.release_machine = ReleaseMachine(
            scope,
            "ReleaseMachine",
            release_function=self.release_functions.release_function,
            log_group_name=release_log_group_name(
                shared.stack_name, model.name, default=model.default
            ),
            timeout=Duration.hours(settings.release_timeout_hours),
            log_retention=runtime.log_retention,
        )
        self.guardrails = Guardrails(
            scope,
            "Guardrails",
            function=self.function,
            alias=self.alias,
            rollback_function=self.release_functions.rollback_function,
            rollback_failures=self.release_functions.rollback_failures,
            release_machine=self.release_machine.state_machine,
            model_name=model.name,
            error_rate_percent=settings.guardrail_error_rate_percent,
            period_seconds=settings.guardrail_period_seconds,
            min_requests=settings.guardrail_min_requests,
            throttle_rate_percent=settings.guardrail_throttle_rate_percent,
        )
        self.drift_monitor = self._drift_monitor(scope, shared)
        self.retraining = self._retraining(scope, shared)
        self.dashboard = self._dashboard(scope, shared)
        self.directory_entry = self._directory_entry(scope, shared)

    def _drift_monitor(self, scope: Construct, shared: SharedResources) -> DriftMonitor | None:
        options = self.model.drift
        if options is None:
            return None
        return DriftMonitor(
            scope,
            "DriftMonitor",
            options=options,
            stack_name=shared.stack_name,
            model_name=self.model.name,
            bucket=shared.bucket,
            predict_function=self.function,
            alias=self.alias,
            base=shared.runtime.with_code(shared.monitor_source()),
        )

    def _retraining(self, scope: Construct, shared: SharedResources) -> RetrainingPipeline | None:
        options = self.model.retraining
        if options is None:
            return None
        for warning in options.short_bakes(self.model.settings.guardrail_period_seconds):
            where = "" if len(shared.model_names) == 1 else f"model {self.model.name!r}: "
            Annotations.of(scope).add_warning_v2("modelship:short-bake", where + warning)
        # Retraining runs its own copy of the canary chain (see release_chain.py).
        retraining = RetrainingPipeline(
            scope,
            "RetrainingPipeline",
            options=options,
            stack_name=shared.stack_name,
            model_name=self.model.name,
            bucket=shared.bucket,
            predict_function=self.function,
            alias=self.alias,
            release_function=self.release_functions.release_function,
            base=shared.runtime.with_code(shared.retraining_source(options)),
            drift_alarm=self.drift_monitor.alarm if self.drift_monitor else None,
        )
        self.guardrails.watch_rollouts_of(retraining.state_machine)
        return retraining

    def _dashboard(self, scope: Construct, shared: SharedResources) -> ModelDashboard:
        settings, release = self.model.settings, self.release_functions
        alarms = [
            self.guardrails.alias_errors,
            self.guardrails.alias_throttles,
            self.guardrails.prediction_error_rate,
            release.rollback_errors,
            release.rollback_failures.depth_alarm,
        ]
        if self.retraining is not None:
            alarms.append(self.retraining.trigger_failures.depth_alarm)
        monitor = self.drift_monitor
        if monitor is not None:
            alarms.append(monitor.failures.depth_alarm)
        return ModelDashboard(
            scope,
            "Dashboard",
            stack_name=shared.stack_name,
            model_name=self.model.name,
            function=self.function,
            alias=self.alias,
            alarms=alarms,
            drift_alarm=monitor.alarm if monitor is not None else None,
            drift_psi_threshold=monitor.options.psi_threshold if monitor is not None else None,
            period_seconds=settings.guardrail_period_seconds,
            error_rate_percent=settings.guardrail_error_rate_percent,
            p99_latency_ms=settings.guardrail_p99_latency_ms,
        )

    def _directory_entry(self, scope: Construct, shared: SharedResources) -> ssm.StringParameter:
        """The model's entry in the deployment's directory: how the CLI finds its function,
        alias, bucket and state machines from the stack and model name alone."""
        name = self.model.name
        entry = {
            "model": name,
            "default": self.model.default,
            "function": self.function.function_name,
            "alias": self.alias.alias_name,
            "bucket": shared.bucket.bucket_name,
            "release_state_machine": self.release_machine.state_machine.state_machine_arn,
            "retrain_state_machine": (
                self.retraining.state_machine.state_machine_arn if self.retraining else ""
            ),
            "api_path": names.model_routes_prefix(name),
            "dashboard": self.dashboard.dashboard_name,
        }
        return ssm.StringParameter(
            scope,
            "ModelDirectoryEntry",
            parameter_name=names.model_directory_parameter(shared.stack_name, name),
            # Tokens (the function's name, the ARNs) resolve inside the JSON text.
            string_value=Stack.of(scope).to_json_string(entry),
            description=f"modelship model directory: {name} in {shared.stack_name}",
            tier=ssm.ParameterTier.STANDARD,
        )


class ModelStack(NestedStack):
    """A model other than the default, in its own nested stack (its own 500-resource budget)."""

    def __init__(self, scope: Construct, *, model: ModelSettings, shared: SharedResources) -> None:
        super().__init__(
            scope,
            model_stack_id(model.name),
            description=f"modelship model {model.name} of {shared.stack_name}",
        )
        self.resources = ModelResources(self, model, shared)
