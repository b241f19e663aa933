"""The stack: wires the model bucket, the predict service, releases, guardrails and
retraining together, and names its outputs."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from aws_cdk import (
    Annotations,
    CfnElement,
    CfnOutput,
    DefaultStackSynthesizer,
    Duration,
    Stack,
)
from constructs import Construct

from infra_cdk.function_source import (
    stage_predict_source,
    stage_release_source,
    stage_retraining_source,
)
from infra_cdk.guardrails import Guardrails
from infra_cdk.model_bucket import ModelBucket
from infra_cdk.predict_service import PredictService
from infra_cdk.release_machine import ReleaseFunctions, ReleaseMachine
from infra_cdk.retraining import RetrainingPipeline
from infra_cdk.settings import RetrainingOptions, Settings
from infra_cdk.task_function import FunctionRuntime

# Constructs whose resources keep the logical IDs they had as direct children of the stack,
# before these constructs grouped them (see ModelshipStack._allocate_logical_id).
FLAT_SCOPES = ("ModelBucket", "PredictService")


class ModelshipStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        retraining: RetrainingOptions,
        layer_asset: Path,
        source_dir: Path | None = None,
        **kwargs: object,
    ) -> None:
        # The template has never carried CDK's bootstrap-version parameter and rule: CDK skips
        # them when the stack has a child named BootstrapVersion, which the predict service's
        # first Lambda version was. Kept off explicitly, so the template stays as deployed.
        kwargs.setdefault(
            "synthesizer", DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
        )
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self._allocated: dict[str, str] = {}
        self.settings = settings
        runtime = FunctionRuntime.create(self, settings, layer_asset)
        self.model_bucket = ModelBucket(self, "ModelBucket").bucket
        self.predict = PredictService(
            self,
            "PredictService",
            settings=settings,
            bucket=self.model_bucket,
            base=runtime.with_code(source_dir or stage_predict_source()),
        )
        self.function, self.alias, self.stage = (
            self.predict.function,
            self.predict.alias,
            self.predict.stage,
        )
        self.release_functions = ReleaseFunctions(
            self,
            "Releases",
            function=self.function,
            alias=self.alias,
            bucket=self.model_bucket,
            base=runtime.with_code(stage_release_source()),
            error_rate_percent=settings.guardrail_error_rate_percent,
            p99_latency_ms=settings.guardrail_p99_latency_ms,
            guardrail_period_seconds=settings.guardrail_period_seconds,
            post_promotion_guard_seconds=settings.post_promotion_guard_seconds,
        )
        self.release_machine = ReleaseMachine(
            self,
            "ReleaseMachine",
            release_function=self.release_functions.release_function,
            timeout=Duration.hours(settings.release_timeout_hours),
            log_retention=runtime.log_retention,
        )
        self.guardrails = Guardrails(
            self,
            "Guardrails",
            function=self.function,
            alias=self.alias,
            rollback_function=self.release_functions.rollback_function,
            rollback_failures=self.release_functions.rollback_failures,
            release_machine=self.release_machine.state_machine,
            error_rate_percent=settings.guardrail_error_rate_percent,
            period_seconds=settings.guardrail_period_seconds,
            min_requests=settings.guardrail_min_requests,
            throttle_rate_percent=settings.guardrail_throttle_rate_percent,
        )
        for warning in retraining.short_bakes(settings.guardrail_period_seconds):
            Annotations.of(self).add_warning_v2("modelship:short-bake", warning)
        # Retraining runs its own copy of the canary chain (see release_chain.py).
        self.retraining = RetrainingPipeline(
            self,
            "RetrainingPipeline",
            options=retraining,
            model_name=settings.model_name,
            bucket=self.model_bucket,
            predict_function=self.function,
            alias=self.alias,
            release_function=self.release_functions.release_function,
            base=runtime.with_code(
                stage_retraining_source(
                    training_code=retraining.training_code,
                    entry_point=retraining.training_entry_point,
                )
            ),
        )
        self.guardrails.watch_rollouts_of(self.retraining.state_machine)
        self._outputs()

    def _outputs(self) -> None:
        CfnOutput(self, "ApiUrl", value=self.stage.url, description="Base URL of the HTTP API")
        CfnOutput(self, "PredictFunctionName", value=self.function.function_name)
        CfnOutput(self, "LiveAliasName", value=self.alias.alias_name)
        CfnOutput(self, "LiveAliasArn", value=self.alias.function_arn)
        CfnOutput(self, "ModelBucketName", value=self.model_bucket.bucket_name)
        CfnOutput(
            self,
            "ReleaseStateMachineArn",
            value=self.release_machine.state_machine.state_machine_arn,
            description="modelship rollout --state-machine (MODELSHIP_RELEASE_STATE_MACHINE)",
        )
        CfnOutput(
            self,
            "RetrainStateMachineArn",
            value=self.retraining.state_machine.state_machine_arn,
            description="modelship retrain --state-machine (MODELSHIP_RETRAIN_STATE_MACHINE)",
        )
        CfnOutput(
            self,
            "RetrainOutcomeTopicArn",
            value=self.retraining.topic.topic_arn,
            description="subscribe to get each retraining run's outcome",
        )

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        """A logical ID is CloudFormation's identity of a resource: a new one replaces it
        (for the retained buckets, the alias and the bootstrap version: orphans the old one
        and creates an empty twin). The model bucket and the predict service were direct
        children of the stack before they became constructs, so their resources keep the IDs
        they had then: computed from their path without the construct's own id. This keeps
        the grouping without a table of overridden IDs that every new resource would need;
        tests/infra/test_logical_ids.py pins the IDs of the stateful resources."""
        scopes = cfn_element.node.scopes
        path = [scope.node.id for scope in scopes[scopes.index(self) + 1 :]]
        if len(path) < 2 or path[0] not in FLAT_SCOPES:
            return super()._allocate_logical_id(cfn_element)
        logical_id = unique_id(path[1:])
        owner = self._allocated.setdefault(logical_id, cfn_element.node.path)
        if owner != cfn_element.node.path:
            raise ValueError(f"{owner} and {cfn_element.node.path} both map to {logical_id}")
        return logical_id


def unique_id(path: list[str]) -> str:
    """CDK's logical ID of the resource at `path` below a stack (makeUniqueId in aws-cdk-lib
    core/lib/private/uniqueid.ts): a human part, then 8 hex digits of the path's MD5. CDK
    cannot change it without replacing every deployed resource; a test checks it against
    CDK's own for every resource the stack allocates itself."""
    path = [part for part in path if part != "Default"]
    if len(path) == 1 and len(human := re.sub(r"[^A-Za-z0-9]", "", path[0])) <= 255:
        return human
    digest = hashlib.md5("/".join(path).encode(), usedforsecurity=False).hexdigest()
    kept: list[str] = []
    for part in path:
        if not kept or not kept[-1].endswith(part):
            kept.append(part)
    human = "".join(re.sub(r"[^A-Za-z0-9]", "", p) for p in kept if p != "Resource")
    return human[:240] + digest[:8].upper()
