"""One model's predict service: its function and its `live` alias (the shared HTTP API in
front of the aliases is predict_api.py)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra_cdk import nag
from infra_cdk.bucket_access import grant_prefix_read
from infra_cdk.layer_recipe import pinned_version
from infra_cdk.settings import Settings
from infra_cdk.task_function import FunctionBase
from modelship import names


class PredictService(Construct):
    """`function` serves one model; `alias` is what the API invokes and what releases route.
    `deployment_models` names every model of the deployment, this one's default first."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        bucket: s3.IBucket,
        base: FunctionBase,
        deployment_models: tuple[str, ...],
        capture_stream: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.capture_stream = capture_stream
        self.bucket = bucket
        self.deployment_models = deployment_models
        self.function = self._function(base)
        self.alias = self._live_alias()

    def _role(self) -> iam.Role:
        model_prefix = f"{names.MODELS_PREFIX}/{self.settings.model_name}/"
        role = iam.Role(
            self,
            "PredictRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"predict function: reads {model_prefix}* only",
        )
        grant_prefix_read(
            role,
            self.bucket,
            model_prefix,
            read_sid="ReadModelArtifacts",
            list_sid="ListModelVersions",
        )
        nag.predict_role(role, self.bucket, model_prefix)
        return role

    def _function(self, base: FunctionBase) -> lambda_.Function:
        settings = self.settings
        log_group = logs.LogGroup(
            self,
            "PredictLogGroup",
            retention=base.log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = self._role()
        log_group.grant_write(role)
        environment = {
            names.ENV_MODEL_BUCKET: self.bucket.bucket_name,
            names.ENV_MODEL_NAME: settings.model_name,
            names.ENV_DEPLOYMENT_MODELS: ",".join(self.deployment_models),
            names.ENV_MODEL_VERSION: settings.model_version,
            names.ENV_MODEL_SHA256: settings.model_sha256,
            names.ENV_MAX_ROWS: str(settings.max_rows),
            names.ENV_MAX_BODY_BYTES: str(settings.max_body_bytes),
            names.ENV_EPHEMERAL_STORAGE_MB: str(settings.ephemeral_storage_mb),
            names.ENV_MODEL_CACHE_DIR: names.DEFAULT_MODEL_CACHE_DIR,
            names.ENV_POWERTOOLS_SERVICE_NAME: names.PREDICT_SERVICE_NAME,
            names.ENV_POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            # Lets a release refuse a model pickled with another scikit-learn than the layer's.
            names.ENV_LAYER_SKLEARN_VERSION: pinned_version("scikit-learn"),
        }
        if self.capture_stream:
            environment |= {
                names.ENV_CAPTURE_STREAM: self.capture_stream,
                names.ENV_CAPTURE_SAMPLE_RATE: f"{settings.capture_sample_rate:g}",
                names.ENV_CAPTURE_EXCLUDE_FIELDS: ",".join(settings.capture_exclude_fields),
            }
        function = lambda_.Function(
            self,
            "PredictFunction",
            description=f"modelship predict ({settings.model_name})",
            code=base.code,
            handler=names.PREDICT_HANDLER,
            runtime=base.runtime,
            architecture=base.architecture,
            layers=[base.layer],
            role=role,
            memory_size=settings.memory_size,
            timeout=Duration.seconds(settings.timeout_seconds),
            ephemeral_storage_size=Size.mebibytes(settings.ephemeral_storage_mb),
            environment=environment,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            snap_start=(
                lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if settings.snap_start else None
            ),
        )
        nag.predict_function(function, role)
        self._shadow_policy(role, function)
        return function

    def _shadow_policy(self, role: iam.IRole, function: lambda_.Function) -> iam.Policy:
        """What a serving version needs to mirror requests to a shadow version of the same
        function (modelship.serving.shadow_mirror): read the model's shadow state, and invoke
        the function's published versions. A policy of its own, not the role's default one:
        the function depends on its role's default policy, so naming the function's ARN
        there would make the function depend on itself."""
        state_key = names.shadow_state_key(self.settings.model_name)
        policy = iam.Policy(
            self,
            "ShadowMirrorPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadShadowState",
                    actions=["s3:GetObject"],
                    resources=[self.bucket.arn_for_objects(state_key)],
                ),
                # Listed before it is read (modelship.serving.shadow_state): without
                # ListBucket a missing key answers 403, and no shadow is the usual case.
                iam.PolicyStatement(
                    sid="ListShadowState",
                    actions=["s3:ListBucket"],
                    resources=[self.bucket.bucket_arn],
                    conditions={"StringEquals": {"s3:prefix": [state_key]}},
                ),
                # An Invoke with a Qualifier is authorized against the qualified ARN
                # (function:name:version), which the unqualified function ARN does not match.
                iam.PolicyStatement(
                    sid="MirrorToShadowVersions",
                    actions=["lambda:InvokeFunction"],
                    resources=[f"{function.function_arn}:*"],
                ),
            ],
        )
        nag.shadow_mirror_policy(policy, function)
        return policy

    def _live_alias(self) -> lambda_.Alias:
        # A Version with a fixed logical id is published once, at the first deploy, and never
        # replaced by later code changes; so the alias resource never changes either, and a
        # redeploy leaves the routing that `modelship release` set on the alias untouched.
        bootstrap = lambda_.Version(
            self,
            "BootstrapVersion",
            lambda_=self.function,
            description="bootstrap: first deploy, no model pinned",
            removal_policy=RemovalPolicy.RETAIN,
        )
        return lambda_.Alias(
            self, "LiveAlias", alias_name=self.settings.alias_name, version=bootstrap
        )
