"""Fixtures shared by every test tier: fake AWS credentials, the reference model, moto S3."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# No test may reach a real AWS account, whatever the developer's shell has configured. The
# credentials are the emulator's own (modelship.local.endpoints.FAKE_CREDENTIALS), so a
# request signed from the default chain passes its gateway's SigV4 check.
_REMOVED = ("AWS_PROFILE", "AWS_ENDPOINT_URL", "MODELSHIP_BUCKET")
_TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "predict",
    "POWERTOOLS_METRICS_NAMESPACE": "modelship",
}
# Tiers by directory: `pytest -m integration` runs the moto tier alone.
_TIERS = ("unit", "integration", "infra", "e2e")
_saved_environment: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Set the test environment before any test module is imported (handlers read it at
    import); pytest_unconfigure puts back what was there, so an in-process runner of pytest
    (an IDE, pytest.main) gets its own environment back."""
    for key in (*_REMOVED, *_TEST_ENVIRONMENT):
        _saved_environment.setdefault(key, os.environ.get(key))
    for key in _REMOVED:
        os.environ.pop(key, None)
    os.environ.update(_TEST_ENVIRONMENT)


def pytest_unconfigure(config: pytest.Config) -> None:
    for key, value in _saved_environment.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    _saved_environment.clear()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        path = item.path.resolve()
        parts = path.relative_to(tests_dir).parts if path.is_relative_to(tests_dir) else ()
        if parts and parts[0] in _TIERS:
            item.add_marker(getattr(pytest.mark, parts[0]))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test`: -n 2 --dist loadfile; plain `-n N` is `load`): whole
    modules to the workers, every e2e test to one worker (tests/xdist_scheduling.py)."""
    if config.getvalue("dist") not in ("load", "loadfile"):
        return None
    from tests.xdist_scheduling import TierScheduling

    return TierScheduling(config, log)


BUCKET = "modelship-test-models"


@pytest.fixture(scope="session")
def reference_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference churn model, trained once per test session (read-only: copy to modify)."""
    from modelship.training.churn import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model

    out = tmp_path_factory.mktemp("reference") / "model"
    write_model(train(generate_churn(), TrainingSpec(name="churn", version="v1")), out)
    return out


@pytest.fixture
def model_dir(reference_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the reference model directory."""
    copy = tmp_path / "model"
    shutil.copytree(reference_model_dir, copy)
    return copy


@pytest.fixture
def s3() -> Iterator[Any]:
    """A moto S3 client with an empty, versioned model bucket."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


@pytest.fixture
def published(s3: Any, reference_model_dir: Path) -> Any:
    """The reference model published as churn/v1; returns its manifest."""
    from modelship.registry.registry import Registry

    return Registry(s3, BUCKET).publish(reference_model_dir)


class GetObjectCounter:
    """Counts S3 GetObject calls made through one client."""

    def __init__(self, client: Any) -> None:
        self.keys: list[str] = []
        client.meta.events.register("before-parameter-build.s3.GetObject", self._count)

    def _count(self, params: dict[str, Any], **_: Any) -> None:
        self.keys.append(params["Key"])


@pytest.fixture
def get_object_counter(s3: Any) -> GetObjectCounter:
    return GetObjectCounter(s3)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--iam-report",
        type=Path,
        default=None,
        help="whole-suite runs (make test): measure which IAM Allow statements the tests "
        "need, write the report here, and fail on unneeded, unjustified statements",
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from tests.iam_report import RECORDED, finish

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        # An xdist worker: the controller reports on what every worker recorded.
        workeroutput["iam"] = RECORDED.as_json()
        return
    if not RECORDED:
        return
    passed, text = finish(session.config.getoption("--iam-report"))
    if text:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            for line in text.splitlines():
                reporter.write_line(line)
    if not passed and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """An xdist worker finished: what it recorded joins the controller's IAM report."""
    from tests.iam_report import RECORDED

    recorded = getattr(node, "workeroutput", {}).get("iam")
    if recorded:
        RECORDED.add_worker(recorded)
