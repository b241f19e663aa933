"""An in-process S3 (moto) holding one model: lets `modelship invoke` and the demo run the
real predict handler with no AWS account and no emulator running."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from modelship.local.endpoints import FAKE_CREDENTIALS
from modelship.local.handler_runner import patched_environ
from modelship.names import MODEL_MANIFEST_FILE
from modelship.registry.manifest import Manifest

SANDBOX_BUCKET = "modelship-sandbox"


def ensure_reference_model(model_dir: Path, name: str = "churn") -> Manifest:
    """Trains the reference churn model into `model_dir` unless one is already there."""
    from modelship.registry.manifest import read_manifest_dir

    if (model_dir / MODEL_MANIFEST_FILE).is_file():
        return read_manifest_dir(model_dir)
    from modelship.training.churn import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model

    return write_model(
        train(generate_churn(), TrainingSpec(name=name, data_uri="generated:churn")), model_dir
    )


@contextlib.contextmanager
def s3_sandbox(model_dir: Path, name: str = "churn") -> Iterator[tuple[str, Manifest]]:
    """Yields (bucket, manifest) with the model published in an in-process moto S3."""
    from moto import mock_aws

    from modelship.registry.registry import Registry

    manifest = ensure_reference_model(model_dir, name)
    with fake_credentials(), mock_aws():
        import boto3

        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=SANDBOX_BUCKET)
        Registry(s3, SANDBOX_BUCKET).publish(model_dir)
        yield SANDBOX_BUCKET, manifest


@contextlib.contextmanager
def fake_credentials(region: str = "us-east-1") -> Iterator[None]:
    """Credentials moto accepts, without touching a real profile."""
    values = {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}
    saved_endpoint = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        with patched_environ(values):
            yield
    finally:
        if saved_endpoint is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved_endpoint
