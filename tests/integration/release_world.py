"""A moto world for release tests: model bucket with published versions, the predict function
with its bootstrap version and `live` alias, and the release/rollback functions running their
real handlers in-process (modelship.local.inprocess_lambda)."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import sklearn
from moto import mock_aws

from modelship import names
from modelship.local.iam import Authorizer
from modelship.local.inprocess_lambda import InProcessLambda
from modelship.local.moto_patches import (
    alias_revisions,
    extended_statistics,
    ordered_dimensions,
)
from modelship.registry.manifest import Manifest
from modelship.registry.registry import Registry
from modelship.releases.canary_alarms import GuardrailThresholds
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases
from tests.conftest import BUCKET

FUNCTION = "modelship-predict"
MODEL = "churn"
ALIAS = "live"
MOTO_CONFIG: Any = {
    "lambda": {"use_docker": False},
    "stepfunctions": {"execute_state_machine": True},
}


def dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# the in-process runner loads the repository's code\n")
    return buffer.getvalue()


def retitle(model_dir: Path, out: Path, version: str, **changes: Any) -> Path:
    """A copy of `model_dir` whose manifest has another version (and optional changes)."""
    copy = out / f"model-{version}"
    shutil.copytree(model_dir, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["version"] = version
    for key, value in changes.items():
        if key == "sklearn":
            manifest["runtime"]["sklearn"] = value
        else:
            manifest[key] = value
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@dataclass
class World:
    lambda_: Any
    s3: Any
    cloudwatch: Any
    sts: Any
    sfn: Any
    iam: Any
    role_arn: str
    runner: InProcessLambda
    model_dir: Path
    work: Path
    manifests: dict[str, Manifest] = field(default_factory=dict)
    sns: Any = None
    sqs: Any = None

    def releases(self, **kwargs: Any) -> Releases:
        return Releases(
            ReleaseTarget(FUNCTION, ALIAS, BUCKET),
            lambda_client=self.lambda_,
            s3=self.s3,
            cloudwatch=self.cloudwatch,
            sts=self.sts,
            **kwargs,
        )

    def publish_model(self, version: str, **changes: Any) -> Manifest:
        manifest = Registry(self.s3, BUCKET).publish(
            retitle(self.model_dir, self.work, version, **changes)
        )
        self.manifests[version] = manifest
        return manifest

    def alias(self) -> dict[str, Any]:
        alias: dict[str, Any] = self.lambda_.get_alias(FunctionName=FUNCTION, Name=ALIAS)
        return alias

    def weights(self) -> dict[str, float]:
        routing = self.alias().get("RoutingConfig") or {}
        return dict(routing.get("AdditionalVersionWeights") or {})

    def history(self) -> list[Any]:
        return self.releases().history.records()

    def alarm_names(self) -> list[str]:
        alarms = self.cloudwatch.describe_alarms(AlarmNamePrefix="modelship-guardrail-")
        return sorted(a["AlarmName"] for a in alarms["MetricAlarms"])

    def create_function(self, name: str, handler: str, env: dict[str, str]) -> str:
        """The function runs as the template's role for `handler` (see iam_world)."""
        from tests.integration.iam_world import ensure_role, role_of

        role = ensure_role(self.iam, *role_of("AWS::Lambda::Function", handler))
        response = self.lambda_.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": dummy_zip()},
            Environment={"Variables": env},
            Timeout=30,
        )
        return str(response["FunctionArn"])

    def state_machine_role(self, logical_prefix: str) -> str:
        """The ARN of the template's role for the state machine `logical_prefix`."""
        from tests.integration.iam_world import ensure_role, role_of

        return ensure_role(self.iam, *role_of("AWS::StepFunctions::StateMachine", logical_prefix))

    def release_env(self, **overrides: str) -> dict[str, str]:
        return {
            names.ENV_PREDICT_FUNCTION: FUNCTION,
            names.ENV_ALIAS_NAME: ALIAS,
            names.ENV_RELEASE_BUCKET: BUCKET,
            "POWERTOOLS_SERVICE_NAME": "release",
            **overrides,
        }

    def put_traffic(
        self, model_version: str, requests: int, errors: int, latency_ms: float = 20.0
    ) -> None:
        """What the predict handler would have emitted for `requests` requests (its canary set;
        test_canary_alarm_metrics checks it against the handler's own output)."""
        dimensions = [
            {"Name": "service", "Value": names.PREDICT_SERVICE_NAME},
            {"Name": names.METRIC_DIMENSION_MODEL, "Value": MODEL},
            {"Name": names.METRIC_DIMENSION_MODEL_VERSION, "Value": model_version},
        ]
        now = datetime.now(UTC)
        self.cloudwatch.put_metric_data(
            Namespace=names.METRICS_NAMESPACE,
            MetricData=[
                {
                    "MetricName": names.METRIC_REQUESTS,
                    "Dimensions": dimensions,
                    "Value": requests,
                    "Unit": "Count",
                    "Timestamp": now,
                },
                {
                    "MetricName": names.METRIC_PREDICTION_ERRORS,
                    "Dimensions": dimensions,
                    "Value": errors,
                    "Unit": "Count",
                    "Timestamp": now,
                },
            ],
        )
        spread = latency_spread(latency_ms, requests)
        if spread:
            self.cloudwatch.put_metric_data(
                Namespace=names.METRICS_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": names.METRIC_MODEL_LATENCY,
                        "Dimensions": dimensions,
                        "Values": [value for value, _ in spread],
                        "Counts": [count for _, count in spread],
                        "Unit": "Milliseconds",
                        "Timestamp": now,
                    }
                ],
            )

    def judged_with_traffic(
        self,
        *,
        stable: tuple[int, int] = (2000, 10),
        candidate: tuple[int, int] = (200, 1),
        latency_ms: tuple[float, float] = (20.0, 20.0),
    ) -> Callable[[str, str, dict[str, Any]], None]:
        """A `runner.before_invoke` hook: before each judge task, both sides serve traffic
        ((requests, errors) each; the default is healthy, 0.5% errors on both)."""

        def before(name: str, version: str, event: dict[str, Any]) -> None:
            if event.get("action") != "judge":
                return
            sides = (
                (self.alias()["FunctionVersion"], stable, latency_ms[0]),
                (str(event["candidate"]), candidate, latency_ms[1]),
            )
            for lambda_version, (requests, errors), latency in sides:
                config = self.lambda_.get_function_configuration(
                    FunctionName=FUNCTION, Qualifier=lambda_version
                )
                model = config["Environment"]["Variables"][names.ENV_MODEL_VERSION]
                self.put_traffic(model, requests, errors, latency)

        return before


def latency_spread(median_ms: float, requests: int) -> list[tuple[float, int]]:
    """One latency per request, as the handler emits them: ten values from 0.6x to 1.5x
    `median_ms`, the requests shared evenly between them."""
    factors = [0.6 + 0.1 * i for i in range(10)]
    counts = [requests // 10 + (1 if i < requests % 10 else 0) for i in range(10)]
    return [(round(median_ms * f, 6), n) for f, n in zip(factors, counts, strict=True) if n]


@contextmanager
def open_world(
    reference_model_dir: Path, tmp_path: Path, authorizer: Authorizer | None = None
) -> Iterator[World]:
    """Use from a fixture: `with open_world(reference_model_dir, tmp_path) as w: yield w`.

    With IAM enforcement on (MODELSHIP_IAM), the template's policies are enforced and what
    they allowed goes into the session's least-privilege report; an `authorizer` passed in
    (e.g. with a statement removed) is enforced instead and reported nowhere."""
    from modelship.local.iam import enabled, enforce
    from tests.iam_report import RECORDED
    from tests.integration.iam_world import world_authorizer

    if authorizer is None and enabled():
        authorizer = world_authorizer()
        RECORDED.worlds.append(authorizer)
    with (
        mock_aws(config=MOTO_CONFIG),
        # What the emulator corrects in moto: the canary verdict's percentiles and ranks.
        ordered_dimensions(),
        extended_statistics(),
        alias_revisions(),
        InProcessLambda() as runner,
        enforce(authorizer) if authorizer else nullcontext(),
    ):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(
            RoleName="modelship-test",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            ),
        )
        world = World(
            lambda_=boto3.client("lambda", region_name="us-east-1"),
            s3=s3,
            cloudwatch=boto3.client("cloudwatch", region_name="us-east-1"),
            sts=boto3.client("sts", region_name="us-east-1"),
            sfn=boto3.client("stepfunctions", region_name="us-east-1"),
            iam=iam,
            role_arn=role["Role"]["Arn"],
            runner=runner,
            model_dir=reference_model_dir,
            work=tmp_path,
            sns=boto3.client("sns", region_name="us-east-1"),
            sqs=boto3.client("sqs", region_name="us-east-1"),
        )
        world.create_function(
            FUNCTION,
            names.PREDICT_HANDLER,
            {
                names.ENV_MODEL_BUCKET: BUCKET,
                names.ENV_MODEL_NAME: MODEL,
                names.ENV_MODEL_CACHE_DIR: str(tmp_path / "cache"),
                names.ENV_LAYER_SKLEARN_VERSION: sklearn.__version__,
                names.ENV_POWERTOOLS_SERVICE_NAME: names.PREDICT_SERVICE_NAME,
                names.ENV_POWERTOOLS_METRICS_NAMESPACE: names.METRICS_NAMESPACE,
            },
        )
        bootstrap = world.lambda_.publish_version(
            FunctionName=FUNCTION, Description="bootstrap: no model pinned"
        )
        world.lambda_.create_alias(
            FunctionName=FUNCTION, Name=ALIAS, FunctionVersion=bootstrap["Version"]
        )
        for version in ("v1", "v2", "v3"):
            world.publish_model(version)
        yield world


def released(world: World, *model_versions: str) -> list[str]:
    """Creates one release per model version; returns their Lambda versions."""
    releases = world.releases()
    return [releases.create(v)[0].version for v in model_versions]


def stable_on(world: World, model_version: str) -> str:
    """A world whose `live` alias serves `model_version` (created and promoted directly)."""
    (version,) = released(world, model_version)
    world.releases().promote(candidate=version, direct=True, reason="first release")
    return version


THRESHOLDS = GuardrailThresholds(error_rate_percent=5.0, p99_latency_ms=500.0, period_seconds=60)
