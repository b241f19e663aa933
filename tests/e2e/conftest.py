"""One local emulator for the e2e session: the CDK app synthesized in-process (with a stub
layer: the emulator runs functions from their asset directories on the local virtualenv),
started in the background on free loopback ports, stopped whatever happens."""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from modelship.local.background import start_detached, stop_detached
from modelship.local.emulator import IAM_FILE, EmulatorConfig
from modelship.local.iam import enabled
from modelship.registry.registry import Registry
from modelship.releases.models import ReleaseTarget
from modelship.releases.releases import Releases
from tests.iam_report import RECORDED

# Alarm periods of 60 s last 2 s, so a guardrail can trip within a test.
TIME_SCALE = 30.0


@pytest.fixture(scope="session", autouse=True)
def paced_requests() -> Iterator[None]:
    """The emulator's gateway throttles as the stage does (50 requests/s, burst 100): every
    request a test sends with http.client or urllib (not boto3's urllib3) keeps under it."""
    import http.client
    from unittest import mock

    from modelship.demo_traffic import PACE_PER_SECOND, Pacer

    # Not demo_traffic's pacer: its post waits on that one too, and two pacers at one rate
    # keep that rate where one pacer reserving two slots per request would halve it.
    pacer = Pacer(PACE_PER_SECOND)
    original = http.client.HTTPConnection.request

    def request(connection: http.client.HTTPConnection, *args: Any, **kwargs: Any) -> None:
        if type(connection) in (http.client.HTTPConnection, http.client.HTTPSConnection):
            pacer.wait()
        original(connection, *args, **kwargs)

    with mock.patch.object(http.client.HTTPConnection, "request", request):
        yield


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def synth(out: Path, context: dict[str, Any] | None = None) -> Path:
    """The CDK app synthesized into `out` (with `context` over cdk.json's), a stub layer."""
    from aws_cdk import App

    from infra_cdk.app import build_app

    layer = out.parent / "stub-layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "placeholder.txt").write_text("stub layer\n")
    app = App(outdir=str(out), context=context)
    build_app(app, layer_asset=layer)
    app.synth()
    return out


def emulator_config(work: Path, cdk_out: Path) -> EmulatorConfig:
    """An emulator on free ports under `work`, compressed time, no seeded model."""
    return EmulatorConfig(
        cdk_out=cdk_out,
        state_dir=work / "emulator",
        api_port=free_port(),
        aws_port=free_port(),
        time_scale=TIME_SCALE,
        seed_model=False,
        iam=enabled(),
    )


@dataclass
class Local:
    """The running emulator and clients pointed at it."""

    environment: dict[str, str]
    state_dir: Path
    work: Path

    @property
    def api_url(self) -> str:
        return self.environment["MODELSHIP_API_URL"]

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=self.environment["AWS_ENDPOINT_URL"], region_name="us-east-1"
        )

    def releases(self) -> Releases:
        env = self.environment
        return Releases(
            ReleaseTarget(
                env["MODELSHIP_FUNCTION"], env["MODELSHIP_ALIAS"], env["MODELSHIP_BUCKET"]
            ),
            lambda_client=self.client("lambda"),
            s3=self.client("s3"),
            cloudwatch=self.client("cloudwatch"),
            sts=self.client("sts"),
        )

    def publish(self, model_dir: Path, version: str) -> None:
        """Publishes a copy of `model_dir` as `version`."""
        copy = self.work / f"model-{version}"
        shutil.copytree(model_dir, copy)
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["version"] = version
        (copy / "manifest.json").write_text(json.dumps(manifest))
        Registry(self.client("s3"), self.environment["MODELSHIP_BUCKET"]).publish(copy)

    def released(self, version: str) -> str:
        """A Lambda version pinned to the model `version`."""
        info, _ = self.releases().create(version, reason="e2e")
        return info.version


@pytest.fixture(scope="session")
def cdk_out() -> Path:
    # The default app, synthesized once per process for every tier (read-only: copy to change).
    from tests.synthesis import synthesized

    return synthesized().out


@pytest.fixture(scope="session")
def local(
    tmp_path_factory: pytest.TempPathFactory, reference_model_dir: Path, cdk_out: Path
) -> Iterator[Local]:
    work = tmp_path_factory.mktemp("e2e")
    config = emulator_config(work, cdk_out)
    state = start_detached(config)
    try:
        emulator = Local(state["endpoints"]["environment"], config.state_dir, work)
        emulator.publish(reference_model_dir, "v1")
        stable = emulator.released("v1")
        emulator.releases().promote(candidate=stable, direct=True, reason="e2e baseline")
        yield emulator
    finally:
        stop_detached(config.state_dir)
        RECORDED.add_emulator(config.state_dir / IAM_FILE)
