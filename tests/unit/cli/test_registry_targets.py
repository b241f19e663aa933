"""The bucket and model name of the registry commands (`models publish|list|show`, `invoke`):
modelship.cli.targets.registry_bucket and named_model on the real parser's command lines, the
model directory served from fake pages; and `invoke --url --model`'s route."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

import modelship.cli.targets as targets
from modelship.cli.commands.invoke import addressed_to
from modelship.cli.main import main
from modelship.errors import InvalidModelDirectory, UsageError
from modelship.releases.directory import ModelDirectory
from modelship.sample_events import load_event
from tests.unit.cli.test_targets import STACK, parsed
from tests.unit.releases.test_directory import FakeSsm, parameter, value


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("MODELSHIP_STACK", "MODELSHIP_MODEL", "MODELSHIP_BUCKET", "MODEL_BUCKET"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def directory(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Serves a two-model stack whose models share `models-bucket`; returns the stacks read."""
    read: list[str] = []

    def model_directory(stack: str) -> ModelDirectory:
        read.append(stack)
        ssm = FakeSsm(
            [parameter("churn", value("churn", default=True)), parameter("ltv", value("ltv"))]
        )
        return ModelDirectory(ssm, stack)

    monkeypatch.setattr(targets, "model_directory", model_directory)
    return read


def bucket_of(*argv: str) -> str | None:
    args = parsed(*argv)
    return targets.registry_bucket(args, targets.stack_directory(args))


@pytest.mark.parametrize(
    "argv",
    [
        ["models", "publish", "dir"],
        ["models", "list"],
        ["models", "show", "churn"],
        ["invoke", "--event", "predict_valid"],
    ],
)
def test_with_a_stack_the_bucket_is_the_one_its_models_share(
    argv: list[str], directory: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHIP_BUCKET", "another-deployments-bucket")

    assert bucket_of(*argv, "--stack", STACK) == "models-bucket"
    assert directory == [STACK]


def test_an_explicit_bucket_wins_and_reads_no_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    ssm = FakeSsm([parameter("churn", value("churn"))])
    monkeypatch.setattr(targets, "model_directory", lambda stack: ModelDirectory(ssm, stack))
    monkeypatch.setenv("MODELSHIP_STACK", STACK)

    assert bucket_of("models", "list", "--bucket", "b") == "b"
    assert ssm.calls == []
    assert bucket_of("models", "list") == "models-bucket"
    assert len(ssm.calls) == 1


def test_without_a_stack_the_environment_names_the_bucket(directory: list[str]) -> None:
    assert bucket_of("models", "list") is None
    with pytest.raises(UsageError, match=r"--bucket is required .*, or --stack"):
        targets.required_bucket(bucket_of("models", "list"))


def test_the_environments_stack_gives_the_bucket_over_the_environments_bucket(
    directory: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_BUCKET", "b")
    assert bucket_of("invoke", "--event", "predict_valid") == "b"

    monkeypatch.setenv("MODELSHIP_STACK", STACK)
    assert bucket_of("invoke", "--event", "predict_valid") == "models-bucket"


def test_models_naming_different_buckets_are_refused_naming_which(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ssm = FakeSsm(
        [
            parameter("churn", value("churn", default=True)),
            parameter("ltv", value("ltv", bucket="other-bucket")),
            parameter("mrr", value("mrr", bucket="other-bucket")),
        ]
    )
    monkeypatch.setattr(targets, "model_directory", lambda stack: ModelDirectory(ssm, stack))

    with pytest.raises(InvalidModelDirectory) as raised:
        bucket_of("models", "list", "--stack", STACK)

    assert str(raised.value) == (
        f"the models of stack {STACK} name different buckets (models-bucket: churn; "
        "other-bucket: ltv, mrr): pass --bucket"
    )
    assert bucket_of("models", "list", "--stack", STACK, "--bucket", "b") == "b"


def test_model_and_another_name_must_agree() -> None:
    args = parsed("models", "list", "churn", "--model", "ltv")
    with pytest.raises(UsageError, match="NAME 'churn' and --model 'ltv' name different models"):
        targets.named_model(args, ("NAME", args.name))

    args = parsed("invoke", "--event", "e", "--name", "churn", "--model", "churn")
    assert targets.named_model(args, ("--name", args.name)) == "churn"
    args = parsed("invoke", "--event", "e", "--model", "ltv")
    assert targets.named_model(args, ("--name", args.name)) == "ltv"


def test_the_environments_model_fills_in_only_where_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MODELSHIP_MODEL", "ltv")
    args = parsed("models", "list")

    assert targets.named_model(args, ("NAME", None)) == "ltv"
    assert targets.named_model(args, ("NAME", None), environment=False) is None
    assert targets.named_model(parsed("models", "show", "churn"), ("NAME", "churn")) == "churn"


# ---- invoke --url --model: the model's route


@pytest.mark.parametrize(
    ("event", "route"),
    [
        ("predict_valid", "/models/ltv/predict"),
        ("health", "/models/ltv/health"),
        ("model_info", "/models/ltv/info"),
        ("openapi", "/models/ltv/openapi.json"),
    ],
)
def test_a_single_model_route_becomes_the_models_route(event: str, route: str) -> None:
    original = load_event(event)
    method = original["requestContext"]["http"]["method"]

    addressed = addressed_to(original, "ltv")

    assert (addressed["rawPath"], addressed["routeKey"]) == (route, f"{method} {route}")
    assert addressed["requestContext"]["http"]["path"] == route
    assert addressed["requestContext"]["routeKey"] == f"{method} {route}"
    assert addressed["body"] == original["body"]
    assert original["rawPath"] != route  # the loaded event is not changed


def test_a_route_of_the_model_is_kept_and_one_of_another_model_refused() -> None:
    event = load_event("model_predict_valid")  # /models/churn/predict

    assert addressed_to(event, "churn") == event
    with pytest.raises(UsageError, match=r"the event is for model 'churn' .*, not --model 'ltv'"):
        addressed_to(event, "ltv")
    with pytest.raises(UsageError, match="its path /other is not one of /predict, /health"):
        addressed_to({**event, "rawPath": "/other"}, "ltv")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An HTTP API on localhost that records the paths it is sent; MODELSHIP_API_URL names it."""
    paths: list[str] = []

    class Api(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            paths.append(self.path)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b'{"predictions": [0]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("MODELSHIP_API_URL", f"http://127.0.0.1:{server.server_port}")
    yield paths
    server.shutdown()


def test_invoke_url_with_a_model_sends_the_event_to_its_route(
    api: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["invoke", "--event", "predict_valid", "--url", "--model", "ltv"]) == 0
    assert main(["invoke", "--event", "predict_valid", "--url", "--name", "churn"]) == 0
    monkeypatch.setenv("MODELSHIP_MODEL", "mrr")
    assert main(["invoke", "--event", "predict_valid", "--url"]) == 0

    assert api == ["/models/ltv/predict", "/models/churn/predict", "/models/mrr/predict"]
    assert capsys.readouterr().out.startswith("status 200")


def test_the_environments_model_leaves_an_event_for_a_model_route_as_written(
    api: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELSHIP_MODEL", "ltv")

    assert main(["invoke", "--event", "predict_unknown_model", "--url"]) == 0
    assert main(["invoke", "--event", "predict_unknown_model", "--url", "--model", "ltv"]) == 1
    assert "the event is for model 'no-such-model'" in capsys.readouterr().err
    assert api == ["/models/no-such-model/predict"]


def test_invoke_url_without_a_model_keeps_the_events_route(
    api: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_NAME", "churn")  # the function's variable names no route

    assert main(["invoke", "--event", "predict_valid", "--url"]) == 0
    assert api == ["/predict"]


def test_invoke_refuses_two_names_and_a_stack_beside_url(
    api: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["invoke", "--event", "predict_valid", "--url", "--output", "json"]

    assert main([*argv, "--name", "churn", "--model", "ltv"]) == 1
    refused = json.loads(capsys.readouterr().err)["error"]
    assert refused["message"] == "--name 'churn' and --model 'ltv' name different models: give one"
    assert main([*argv, "--stack", STACK, "--model", "ltv"]) == 1
    assert (
        "with --url the API answers from its own deployment: drop --stack"
        in (json.loads(capsys.readouterr().err)["error"]["message"])
    )
    assert api == []
