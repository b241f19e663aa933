"""The models under test and the moto S3 server on loopback that serves them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelship.registry.manifest import Manifest
from modelship.registry.registry import Registry
from modelship.training.churn import generate_churn
from modelship.training.training import TrainingSpec, train, write_model

BUCKET = "modelship-bench-models"
# About 153 KB per fully grown tree on the churn data: 340 trees land near 52 MB, the size of
# the large model in the public reference.
LARGE_TREES = 340
LARGE_MIN_MB, LARGE_MAX_MB = 45.0, 60.0


@dataclass(frozen=True)
class BenchModel:
    label: str
    description: str
    directory: Path
    manifest: Manifest

    @property
    def size_mb(self) -> float:
        return self.manifest.artifact.size_bytes / 1e6

    @property
    def size_label(self) -> str:
        size = self.manifest.artifact.size_bytes
        return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} KB"


REFERENCE = (
    "reference",
    "reference churn model: StandardScaler + OneHotEncoder + LogisticRegression",
    TrainingSpec(name="churn", version="v1"),
)


def build_reference_model(workdir: Path) -> BenchModel:
    """The reference model alone, for a figure that needs no other."""
    return _build(workdir, generate_churn(), *REFERENCE)


def _build(
    workdir: Path, table: Any, label: str, description: str, spec: TrainingSpec
) -> BenchModel:
    directory = workdir / "models" / label
    if directory.exists():
        for child in directory.iterdir():
            child.unlink()
    manifest = write_model(train(table, spec), directory)
    return BenchModel(label, description, directory, manifest)


def build_models(workdir: Path) -> list[BenchModel]:
    """The reference model (as `make demo` trains it) and a ~50 MB random forest."""
    table = generate_churn()
    specs = [
        REFERENCE,
        (
            "large",
            f"random forest, {LARGE_TREES} fully grown trees on the churn data",
            TrainingSpec(
                name="churnforest",
                version="v1",
                algorithm="random_forest",
                params={"n_estimators": LARGE_TREES},
            ),
        ),
    ]
    models = [_build(workdir, table, *spec) for spec in specs]
    large = models[1]
    if not LARGE_MIN_MB <= large.size_mb <= LARGE_MAX_MB:
        raise RuntimeError(
            f"the large model is {large.size_mb:.1f} MB, outside {LARGE_MIN_MB}-{LARGE_MAX_MB} MB;"
            " adjust LARGE_TREES"
        )
    return models


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_s3(models: list[BenchModel]) -> Iterator[str]:
    """A moto server on 127.0.0.1 holding the models; yields its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        s3: Any = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        registry = Registry(s3, BUCKET)
        for model in models:
            registry.publish(model.directory)
        yield endpoint
    finally:
        server.stop()


def function_environment(endpoint: str, model: BenchModel, cache_dir: Path) -> dict[str, str]:
    """What a release sets on the predict function, pointed at the moto endpoint."""
    return {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        # No X-Ray daemon here; in Lambda the tracer adds its own subsegment per request.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_SERVICE_NAME": "predict",
        "POWERTOOLS_METRICS_NAMESPACE": "modelship",
        "MODEL_BUCKET": BUCKET,
        "MODEL_NAME": model.manifest.name,
        "MODEL_VERSION": model.manifest.version,
        "MODEL_SHA256": model.manifest.artifact.sha256,
        "MODEL_CACHE_DIR": str(cache_dir),
    }
