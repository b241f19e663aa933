"""`make demo`: the serving story end to end on an in-process S3, no AWS account needed.

Trains the reference churn model, publishes it to the registry, cold-starts the real predict
handler (model from S3, verified, cached in /tmp), answers every sample event, shows that a
second cold start is served from the warm /tmp cache, and that a republish is refused.
Exits 0 only if every expectation held.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelship.sample_events import load_event

EXPECTED_STATUS = {
    "predict_valid": 200,
    "predict_batch": 200,
    "predict_missing_feature": 422,
    "predict_wrong_type": 422,
    "predict_unknown_category": 422,
    "predict_malformed_json": 400,
    "predict_too_many_rows": 413,
    "health": 200,
    "model_info": 200,
}


class Story:
    def __init__(self) -> None:
        self.failures: list[str] = []

    def step(self, title: str) -> None:
        print(f"\n== {title}")

    def check(self, ok: bool, what: str) -> None:
        print(f"   [{'ok' if ok else 'FAILED'}] {what}")
        if not ok:
            self.failures.append(what)


def main() -> int:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "demo",
            "AWS_SECRET_ACCESS_KEY": "demo",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "predict",
            "POWERTOOLS_METRICS_NAMESPACE": "modelship",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    work = Path(tempfile.mkdtemp(prefix="modelship-demo-"))
    try:
        return _run(Story(), work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(story: Story, work: Path) -> int:
    import boto3
    from moto import mock_aws

    from modelship.data import generate_churn
    from modelship.errors import VersionConflict
    from modelship.registry import Registry
    from modelship.training import TrainingSpec, train, write_model

    story.step("1. Train the reference churn model")
    trained = train(generate_churn(), TrainingSpec(name="churn"))
    manifest = write_model(trained, work / "model")
    auc = manifest.metrics["roc_auc"]
    print(f"   version {manifest.version}, holdout ROC-AUC {auc:.4f}")
    story.check(auc >= 0.85, f"holdout ROC-AUC {auc:.4f} >= 0.85")

    with mock_aws():
        s3 = boto3.client("s3")
        bucket = "modelship-demo-models"
        s3.create_bucket(Bucket=bucket)
        registry = Registry(s3, bucket)

        story.step("2. Publish it to the S3 registry (write-once)")
        registry.publish(work / "model")
        sha = manifest.artifact.sha256[:16]
        print(f"   s3://{bucket}/models/churn/{manifest.version}/  sha256 {sha}...")
        try:
            registry.publish(work / "model")
            story.check(False, "a second publish of the same version is refused")
        except VersionConflict as exc:
            print(f"   republish: {exc}")
            story.check(True, "a second publish of the same version is refused")

        story.step("3. Cold-start the predict handler (model streamed from S3, verified, cached)")
        env = {
            "MODEL_BUCKET": bucket,
            "MODEL_NAME": "churn",
            "MODEL_VERSION": manifest.version,
            "MODEL_SHA256": manifest.artifact.sha256,
            "MODEL_CACHE_DIR": str(work / "tmp"),
        }
        invoke = _start(env)
        health = _body(invoke(load_event("health")))
        print(f"   health: {json.dumps(health)}")
        story.check(health.get("load_source") == "s3", "first cold start loads from S3")

        story.step("4. Sample events through the real handler")
        for name, expected in EXPECTED_STATUS.items():
            response = invoke(load_event(name))
            status = response["statusCode"]
            print(f"   {name:<26} {status}  {_summary(response)}")
            story.check(status == expected, f"{name} answers {expected}")
            if name == "predict_valid":
                story.check(
                    response["headers"].get("X-Model-Version") == manifest.version,
                    "X-Model-Version names the pinned model",
                )

        story.step("5. A second cold start on the same /tmp skips S3")
        gets: list[str] = []
        counter_client = boto3.client("s3")
        counter_client.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: gets.append(params["Key"])
        )
        invoke = _start(env, s3_client=counter_client)
        health = _body(invoke(load_event("health")))
        print(f"   health: {json.dumps(health)}; S3 GetObject calls: {len(gets)}")
        story.check(health.get("load_source") == "tmp" and not gets, "served from /tmp, no S3 call")

    print()
    if story.failures:
        print(f"demo FAILED: {len(story.failures)} expectation(s) did not hold")
        return 1
    print("demo passed: every expectation held")
    return 0


def _start(env: dict[str, str], s3_client: Any | None = None) -> Callable[[dict[str, Any]], Any]:
    import contextlib
    from unittest import mock

    from modelship.handler_runner import FakeLambdaContext, load_handler, patched_environ
    from modelship.names import PREDICT_HANDLER

    patch = (
        mock.patch("boto3.client", return_value=s3_client)
        if s3_client is not None
        else contextlib.nullcontext()
    )
    with patched_environ(env), patch:
        _, handler = load_handler(PREDICT_HANDLER)

    def invoke(event: dict[str, Any]) -> Any:
        with patched_environ(env):
            return handler(event, FakeLambdaContext(function_name="modelship-predict"))

    return invoke


def _body(response: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response["body"])
    return body


def _summary(response: dict[str, Any]) -> str:
    body = _body(response)
    if "predictions" in body:
        probabilities = [round(p["1"], 3) for p in body.get("probabilities", [])]
        predictions = body["predictions"]
        return f"version {body['model_version']} predictions {predictions} P(churn) {probabilities}"
    if "error" in body:
        error = body["error"]
        detail = error.get("details", [{}])[0] if error.get("details") else {}
        where = f" row {detail.get('row')} field {detail.get('field')}" if detail else ""
        return f"{error['code']}{where}"
    if "status" in body:
        return f"{body['status']} {body.get('model_version')}"
    return f"model {body.get('name')} {body.get('version')} ({body.get('task')})"


if __name__ == "__main__":
    sys.exit(main())
