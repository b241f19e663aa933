"""The stack: wires the shared model bucket, dependency layer and HTTP API, the default
model's resources, a nested stack per other model, and names its outputs."""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from aws_cdk import (
    CfnElement,
    CfnOutput,
    DefaultStackSynthesizer,
    Stack,
)
from constructs import Construct

from infra_cdk.data_capture import CaptureStream
from infra_cdk.deployment import Deployment
from infra_cdk.function_source import (
    stage_monitor_source,
    stage_predict_source,
    stage_release_source,
    stage_retraining_source,
)
from infra_cdk.model_bucket import ModelBucket
from infra_cdk.model_resources import ModelResources, ModelStack, SharedResources
from infra_cdk.predict_api import PredictApi
from infra_cdk.settings import RetrainingOptions
from infra_cdk.task_function import FunctionRuntime
from modelship import names

# Constructs whose resources keep the logical IDs they had as direct children of the stack,
# before these constructs grouped them (see ModelshipStack._allocate_logical_id). The API
# was part of PredictService until models shared it.
FLAT_SCOPES = ("ModelBucket", "PredictService", "PredictApi")


class ModelshipStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        deployment: Deployment,
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
        self.deployment = deployment
        default = deployment.default
        self.settings = default.settings
        runtime = FunctionRuntime.create(self, self.settings, layer_asset)
        self.model_bucket = ModelBucket(self, "ModelBucket").bucket
        self.api = PredictApi(
            self,
            "PredictApi",
            settings=self.settings,
            retention=runtime.log_retention,
            model_count=len(deployment.models),
        )
        self.stage = self.api.stage
        # One delivery stream for the deployment, when any model captures.
        self.capture = (
            CaptureStream(
                self,
                "DataCapture",
                stack_name=deployment.stack_name,
                bucket=self.model_bucket,
                log_retention=runtime.log_retention,
                retention_days=self.settings.capture_retention_days,
            )
            if any(model.settings.captures for model in deployment.models)
            else None
        )

        # Staged once per training code directory and entry point, whatever the models.
        staged = cache(stage_retraining_source)

        def retraining_source(options: RetrainingOptions) -> Path:
            return staged(
                training_code=options.training_code, entry_point=options.training_entry_point
            )

        shared = SharedResources(
            stack_name=deployment.stack_name,
            model_names=deployment.model_names,
            bucket=self.model_bucket,
            runtime=runtime,
            api=self.api,
            predict_source=source_dir or stage_predict_source(),
            release_source=stage_release_source(),
            monitor_source=stage_monitor_source,
            retraining_source=retraining_source,
            capture=self.capture,
        )
        self.default_model = ModelResources(self, default, shared)
        self.function, self.alias = self.default_model.function, self.default_model.alias
        self.release_functions = self.default_model.release_functions
        self.release_machine = self.default_model.release_machine
        self.guardrails = self.default_model.guardrails
        self.retraining = self.default_model.retraining
        self.model_stacks = {
            model.name: ModelStack(self, model=model, shared=shared) for model in deployment.others
        }
        self._outputs()

    def _outputs(self) -> None:
        """The default model's, as a single-model deployment always had them; every model is
        found through the model directory (CloudFormation allows 200 outputs a stack)."""
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
        if self.retraining is not None:
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
        CfnOutput(
            self,
            "ModelDirectoryPath",
            value=names.model_directory_path(self.deployment.stack_name),
            description="SSM path listing every model of the deployment (MODELSHIP_STACK is "
            "the stack name)",
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
