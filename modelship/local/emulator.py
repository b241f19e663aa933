"""The local emulator: modelship's whole AWS side on one machine, without Docker.

A moto server on loopback holds the AWS state; the template from cdk.out is provisioned on
it (modelship.local.deployer); Lambda invocations run the real handlers in worker processes
(executor); an HTTP gateway routes requests by the alias's weights (gateway); the handlers'
EMF output becomes CloudWatch metrics (metrics); alarms are evaluated and their state
changes, S3 Object Created events and Step Functions execution status changes are delivered
to the matching EventBridge rules' targets (alarms, eventbridge).

`time_scale` compresses time for demos: alarm periods and Step Functions Wait states last
1/time_scale of their configured length. The default, 1, is faithful.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from modelship import names
from modelship.local.alarms import alarm_period, evaluate_alarms
from modelship.local.deployer import (
    ACCOUNT,
    REGION,
    Clients,
    Deployer,
    Deployment,
    find_template,
)
from modelship.local.eventbridge import EventBridgeDelivery
from modelship.local.events import alarm_state_change_event, execution_status_change_event
from modelship.local.executor import InvocationResult, LambdaExecutor
from modelship.local.gateway import Gateway, IntegrationDenied
from modelship.local.iam import Authorizer
from modelship.local.metrics import MetricsPublisher
from modelship.local.template import load_template

STATE_FILE = "emulator.json"
ACTIVITY_FILE = "activity.jsonl"
# With IAM enforcement on: the policies, allowed requests and denials, written at stop.
IAM_FILE = "iam-observed.json"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
_TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}


@dataclass(frozen=True)
class EmulatorConfig:
    cdk_out: Path
    state_dir: Path
    host: str = "127.0.0.1"
    api_port: int = 3000
    aws_port: int = 5000
    time_scale: float = 1.0
    max_workers_per_version: int = 4
    # Workers idle this long are stopped (Lambda recycles idle environments too).
    idle_seconds: float = 600.0
    # Start with the reference churn model released on `live`, so /predict answers at once.
    seed_model: bool = True
    # Authorize every call made on behalf of a function, state machine or rule against the
    # template's IAM (modelship.local.iam); off with `--no-iam` or MODELSHIP_IAM=off.
    iam: bool = True


@dataclass(frozen=True)
class LocalEndpoints:
    """What `modelship local up` prints: the API URL and the environment to export."""

    api_url: str
    aws_endpoint: str
    environment: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "api_url": self.api_url,
            "aws_endpoint": self.aws_endpoint,
            "environment": self.environment,
        }


class ActivityLog:
    """What the emulator did on its own (alarm changes, deliveries), one JSON line each."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, kind: str, detail: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        line = json.dumps({"at": now.isoformat(), "kind": kind, **detail}, default=str)
        with self._lock, self.path.open("a") as out:
            out.write(line + "\n")


def read_activity(state_dir: Path) -> list[dict[str, Any]]:
    path = state_dir / ACTIVITY_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def endpoints(config: EmulatorConfig, deployment: Deployment, api_url: str) -> LocalEndpoints:
    aws = f"http://{config.host}:{config.aws_port}"
    predict = deployment.function_with_handler(names.PREDICT_HANDLER)
    buckets = deployment.of_type("AWS::S3::Bucket")
    model_bucket = next(
        (name for lid, name in buckets.items() if lid.startswith("ModelBucket")), ""
    )
    environment = {
        "AWS_ENDPOINT_URL": aws,
        **FAKE_CREDENTIALS,
        "MODELSHIP_API_URL": api_url,
        "MODELSHIP_BUCKET": model_bucket,
        "MODELSHIP_FUNCTION": predict,
        "MODELSHIP_ALIAS": alias_name(deployment),
    }
    release = deployment.state_machine("ReleaseMachine")
    retrain = deployment.state_machine("Retraining")
    if release:
        environment["MODELSHIP_RELEASE_STATE_MACHINE"] = release
    if retrain:
        environment["MODELSHIP_RETRAIN_STATE_MACHINE"] = retrain
    return LocalEndpoints(api_url=api_url, aws_endpoint=aws, environment=environment)


def alias_name(deployment: Deployment) -> str:
    aliases = deployment.of_type("AWS::Lambda::Alias")
    if len(aliases) != 1:
        return names.DEFAULT_ALIAS_NAME
    return next(iter(aliases.values())).rsplit(":", 1)[-1]


class PortInUse(Exception):
    """A port the emulator needs is taken."""


def require_free_port(host: str, port: int) -> None:
    # moto's threaded server waits forever when its port is taken: find out first.
    with socket.socket() as probe:
        # Like the servers themselves: a port left in TIME_WAIT by a previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUse(
                f"{host}:{port} is in use (another emulator? `modelship local status`); "
                "choose another with --port / --aws-port"
            ) from None


@contextlib.contextmanager
def compressed_waits(time_scale: float) -> Iterator[None]:
    """Step Functions Wait states last 1/time_scale of their seconds."""
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )

    def eval_body(self: Any, env: Any) -> None:
        seconds = self._get_wait_seconds(env=env)
        if seconds > 0:
            # Returns early when the execution is stopped, like the original.
            env.program_state_event.wait(seconds / time_scale)

    if time_scale == 1.0:
        yield
        return
    with mock.patch.object(WaitFunction, "_eval_body", eval_body):
        yield


@contextlib.contextmanager
def ordered_dimensions() -> Iterator[None]:
    """moto 5.2.5 matches metric dimensions with sorted(), but Dimension.__lt__ compares a
    value with a name, so the match depends on the order they were written in. CloudWatch
    ignores the order: sort by (name, value) while the emulator runs."""
    from moto.cloudwatch.models import Dimension

    def less_than(self: Any, other: Any) -> bool:
        return (str(self.name), str(self.value)) < (str(other.name), str(other.value))

    with mock.patch.object(Dimension, "__lt__", less_than):
        yield


@dataclass
class Emulator:
    config: EmulatorConfig
    deployment: Deployment | None = None
    endpoints: LocalEndpoints | None = None
    executor: LambdaExecutor | None = None
    authorizer: Authorizer | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _stop: threading.Event = field(default_factory=threading.Event)
    _reported: set[str] = field(default_factory=set)

    def start(self) -> LocalEndpoints:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalEndpoints:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        config = self.config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        # moto's server logs every request; the activity log says what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        (config.state_dir / ACTIVITY_FILE).write_text("")
        self.activity = ActivityLog(config.state_dir / ACTIVITY_FILE)
        aws = f"http://{config.host}:{config.aws_port}"
        # moto's Step Functions interpreter calls Lambda at localhost:$MOTO_PORT.
        os.environ.update({**FAKE_CREDENTIALS, "MOTO_PORT": str(config.aws_port)})
        os.environ["AWS_ENDPOINT_URL"] = aws
        default_user_config["lambda"] = {"use_docker": False}
        default_user_config["stepfunctions"] = {"execute_state_machine": True}

        for port in (config.aws_port, config.api_port):
            require_free_port(config.host, port)
        server = ThreadedMotoServer(ip_address=config.host, port=config.aws_port, verbose=False)
        server.start()
        self._stack.callback(server.stop)
        clients = _clients(aws)
        self.clients = clients
        publisher = MetricsPublisher(clients.cloudwatch)
        self.executor = LambdaExecutor(
            work_dir=config.state_dir.resolve(),
            base_env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "LANG": "C.UTF-8",
                "AWS_ENDPOINT_URL": aws,
                **FAKE_CREDENTIALS,
            },
            max_workers_per_version=config.max_workers_per_version,
            idle_seconds=config.idle_seconds,
            on_result=publisher.publish,
        )
        self._stack.callback(self.executor.stop)
        self.delivery = EventBridgeDelivery(self.executor, clients.sfn, self.activity.record)
        self._stack.enter_context(self.executor.serve_moto())
        self._stack.enter_context(self.delivery.serve_moto())
        self._stack.enter_context(compressed_waits(config.time_scale))
        self._stack.enter_context(ordered_dimensions())

        deployment = Deployer(clients, config.cdk_out).deploy()
        self.deployment = deployment
        for advisory in deployment.advisories:
            self.activity.record("deploy-advisory", {"finding": advisory})
        self.executor.code_roots.update(deployment.code_roots)
        if config.iam:
            self._enforce_iam(deployment)
        if config.seed_model:
            seed_reference_model(clients, self.endpoints_environment(deployment), config.state_dir)
        gateway = Gateway(self._invoke_alias, deployment.routes, config.host, config.api_port)
        gateway.start()
        self._stack.callback(gateway.stop)
        self.endpoints = endpoints(config, deployment, gateway.url)

        loop = threading.Thread(target=self._background, daemon=True, name="emulator-loop")
        loop.start()
        self._stack.callback(loop.join, 10)
        self._stack.callback(self._stop.set)
        return self.endpoints

    def stop(self) -> None:
        self._stack.close()

    def _enforce_iam(self, deployment: Deployment) -> None:
        """Every call made on behalf of a function, state machine or rule is authorized
        against the template's policies; denials go to the activity log."""
        from modelship.local.iam import enforce, template_policies
        from modelship.local.iam.endpoint import GUARD_SCRIPT, AuthorizationEndpoint

        template = load_template(find_template(self.config.cdk_out))
        policies = template_policies(template, deployment.refs, deployment.attributes)
        authorizer = Authorizer(policies, on_denied=lambda r: self.activity.record("iam-denied", r))
        self.authorizer = authorizer
        self._stack.callback(self._write_iam_observed)
        self._stack.enter_context(enforce(authorizer))
        endpoint = AuthorizationEndpoint(authorizer, self.config.host)
        endpoint.start()
        self._stack.callback(endpoint.stop)
        assert self.executor is not None
        self.executor.iam_env = {
            "MODELSHIP_IAM_GUARD": str(GUARD_SCRIPT),
            "MODELSHIP_IAM_ENDPOINT": endpoint.url,
        }
        self.delivery.authorizer = authorizer

    def endpoints_environment(self, deployment: Deployment) -> dict[str, str]:
        return endpoints(self.config, deployment, "").environment

    def _write_iam_observed(self) -> None:
        authorizer = self.authorizer
        if authorizer is None:
            return
        observed = {
            "policies": authorizer.policies.as_json(),
            "allowed": [a.as_json() for a in authorizer.allowed],
            "denied": authorizer.denied,
        }
        (self.config.state_dir / IAM_FILE).write_text(json.dumps(observed))

    def _invoke_alias(self, event: dict[str, Any]) -> InvocationResult:
        from moto.awslambda.utils import get_backend

        assert self.executor is not None
        assert self.deployment is not None
        function = self.deployment.function_with_handler(names.PREDICT_HANDLER)
        alias = alias_name(self.deployment)
        authorizer = self.authorizer
        if authorizer is not None:
            # API Gateway invokes the alias under its Lambda permission, with the route's
            # execute-api ARN as aws:SourceArn.
            http = event["requestContext"]["http"]
            api = next(iter(self.deployment.of_type("AWS::ApiGatewayV2::Api").values()), "local")
            source = (
                f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/"
                f"{event['requestContext']['stage']}/{http['method']}{http['path']}"
            )
            target = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}:{alias}"
            decision = authorizer.authorize_service(
                "apigateway.amazonaws.com", "lambda:InvokeFunction", target, source
            )
            if not decision.allowed:
                raise IntegrationDenied(target)
        return self.executor.invoke_moto(get_backend(ACCOUNT, REGION), function, alias, event)

    # ---- what runs on its own: alarms, execution status events, idle workers

    def evaluation_interval(self) -> float:
        """CloudWatch evaluates an alarm once a minute (or per period, if shorter)."""
        alarms = self.clients.cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm"])
        periods = [alarm_period(a) for a in alarms.get("MetricAlarms", [])] or [60]
        return max(0.25, min(60, *periods) / self.config.time_scale)

    def _background(self) -> None:
        next_alarms = 0.0
        while not self._stop.wait(0.25):
            try:
                if time.monotonic() >= next_alarms:
                    self.tick_alarms()
                    next_alarms = time.monotonic() + self.evaluation_interval()
                self.tick_executions()
                assert self.executor is not None
                self.executor.reap_idle()
            except Exception as exc:  # keep the loop alive; the log says what failed
                self.activity.record("emulator-error", {"error": f"{type(exc).__name__}: {exc}"})

    def tick_alarms(self) -> None:
        cloudwatch, scale = self.clients.cloudwatch, self.config.time_scale
        for transition in evaluate_alarms(cloudwatch, time_scale=scale):
            self.activity.record(
                "alarm-state-change",
                {
                    "alarm": transition.alarm_name,
                    "from": transition.old_state,
                    "to": transition.new_state,
                    "reason": transition.reason,
                },
            )
            self.delivery.put(alarm_state_change_event(transition, REGION, ACCOUNT))

    def tick_executions(self) -> None:
        sfn = self.clients.sfn
        for machine in sfn.list_state_machines().get("stateMachines", []):
            executions = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])
            for execution in executions.get("executions", []):
                arn = execution["executionArn"]
                if execution["status"] not in _TERMINAL or arn in self._reported:
                    continue
                self._reported.add(arn)
                described = sfn.describe_execution(executionArn=arn)
                self.activity.record(
                    "execution-finished",
                    {"execution": arn, "status": described["status"]},
                )
                self.delivery.put(execution_status_change_event(described, REGION, ACCOUNT))

    def wait(self) -> None:
        """Blocks until `request_stop` (a signal handler) is called."""
        self._stop.wait()

    def request_stop(self) -> None:
        self._stop.set()


SEED_MODEL_VERSION = "v0"


def seed_reference_model(clients: Clients, environment: dict[str, str], work: Path) -> None:
    """Trains the reference churn model as v0, publishes it, releases it and promotes it,
    as a first `modelship release` would; skipped for a model other than churn."""
    from modelship.registry.registry import Registry
    from modelship.releases.models import ReleaseTarget
    from modelship.releases.releases import Releases
    from modelship.training.data import generate_churn
    from modelship.training.training import TrainingSpec, train, write_model

    function = environment["MODELSHIP_FUNCTION"]
    configuration = clients.lambda_.get_function_configuration(FunctionName=function)
    if configuration["Environment"]["Variables"].get(names.ENV_MODEL_NAME) != "churn":
        return
    model_dir = work / "seed-model"
    shutil.rmtree(model_dir, ignore_errors=True)
    trained = train(generate_churn(), TrainingSpec(name="churn", version=SEED_MODEL_VERSION))
    write_model(trained, model_dir)
    bucket = environment["MODELSHIP_BUCKET"]
    Registry(clients.s3, bucket).publish(model_dir)
    releases = Releases(
        ReleaseTarget(function, environment["MODELSHIP_ALIAS"], bucket),
        lambda_client=clients.lambda_,
        s3=clients.s3,
        cloudwatch=clients.cloudwatch,
        sts=clients.sts,
    )
    reason = "seeded by modelship local up (the reference churn model)"
    info, _ = releases.create(SEED_MODEL_VERSION, reason=reason)
    releases.promote(candidate=info.version, direct=True, reason=reason)


def _clients(endpoint: str) -> Clients:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    )
    config = Config(retries={"max_attempts": 2}, max_pool_connections=32)

    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint, config=config)

    return Clients(
        s3=client("s3"),
        lambda_=client("lambda"),
        iam=client("iam"),
        sfn=client("stepfunctions"),
        cloudwatch=client("cloudwatch"),
        events=client("events"),
        sns=client("sns"),
        logs=client("logs"),
        sts=client("sts"),
        sqs=client("sqs"),
    )
