"""The local emulator: modelship's whole AWS side on one machine, without Docker.

A moto server on loopback holds the AWS state; the template from cdk.out is provisioned on
it (modelship.local.deployer); Lambda invocations run the real handlers in worker processes
(executor); an HTTP gateway routes requests by the alias's weights (gateway); the handlers'
EMF output becomes CloudWatch metrics (metrics); alarms are evaluated and their state
changes, S3 Object Created events and Step Functions execution status changes are delivered
to the matching EventBridge rules' targets (alarms, eventbridge); the gateway also serves the
template's dashboards as local pages (dashboard). What it does on its own
goes to the activity log (activity); a fresh emulator serves the reference model (seed).

`time_scale` compresses time for demos: alarm periods, Step Functions Wait states and the
intervals of scheduled rules (scheduler) last 1/time_scale of their configured length. The
default, 1, is faithful.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.activity import ACTIVITY_FILE, ActivityLog
from modelship.local.alarms import alarm_period, evaluate_alarms
from modelship.local.api_authorizers import deployment_authorizers
from modelship.local.async_invoke import AsyncInvokeConfig
from modelship.local.dashboard import LocalDashboards, moto_backend
from modelship.local.deployer import Deployer
from modelship.local.deployment import ACCOUNT, REGION, Deployment
from modelship.local.endpoints import (
    FAKE_CREDENTIALS,
    LocalEndpoints,
    deployed_models,
    endpoints,
    moto_clients,
)
from modelship.local.eventbridge import EventBridgeDelivery
from modelship.local.events import alarm_state_change_event, execution_status_change_event
from modelship.local.executor import InvocationResult, LambdaExecutor
from modelship.local.firehose_delivery import firehose_delivery
from modelship.local.gateway import (
    Gateway,
    IntegrationDenied,
    integration_function,
    stage_throttle,
)
from modelship.local.iam import Authorizer
from modelship.local.metrics import MetricsPublisher
from modelship.local.moto_patches import (
    alias_revisions,
    compressed_waits,
    extended_statistics,
    ordered_dimensions,
)
from modelship.local.scheduler import EmulatedClock, Scheduler
from modelship.local.seed import seed_reference_models

# With IAM enforcement on: the policies, allowed requests and denials, written at stop.
IAM_FILE = "iam-observed.json"
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
    # Start with the reference churn model released on `live` of every model of the reference
    # family (modelship.local.seed), so /predict answers at once.
    seed_model: bool = True
    # Authorize every call made on behalf of a function, state machine or rule against the
    # template's IAM (modelship.local.iam); off with `--no-iam` or MODELSHIP_IAM=off.
    iam: bool = True

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.host}:{self.aws_port}"


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
        aws = config.aws_endpoint
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
        clients = moto_clients(aws)
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
        self._stack.enter_context(extended_statistics())
        self._stack.enter_context(alias_revisions())
        self._stack.enter_context(firehose_delivery(lambda: self.authorizer))

        deployment = Deployer(clients, config.cdk_out).deploy()
        self.deployment = deployment
        models = deployed_models(clients.ssm, deployment)
        for advisory in deployment.advisories:
            self.activity.record("deploy-advisory", {"finding": advisory})
        self.executor.code_roots.update(deployment.code_roots)
        self.delivery.async_invoke = {
            name: AsyncInvokeConfig.from_properties(properties)
            for name, properties in deployment.async_invoke.items()
        }
        if config.iam:
            self._enforce_iam(deployment)
        if config.seed_model:
            for seeded in seed_reference_models(clients, deployment, models, config.state_dir):
                self.activity.record("seeded", {"model": seeded.model, "what": seeded.describe()})
        self.scheduler = Scheduler(
            self._scheduled_rules,
            self.delivery.deliver,
            self.activity.record,
            EmulatedClock(config.time_scale),
            REGION,
            ACCOUNT,
        )
        self.scheduler.advisories()
        dashboards = LocalDashboards(moto_backend, config.time_scale)
        authorizers = deployment_authorizers(deployment, config.state_dir)
        gateway = Gateway(
            self._invoke_alias,
            deployment.routes,
            config.host,
            config.api_port,
            pages=lambda *page: authorizers.page(*page) or dashboards.handle(*page),
            authorize=authorizers.check,
            throttle=stage_throttle(deployment.stage_route_settings),
        )
        gateway.start()
        self._stack.callback(gateway.stop)
        self.endpoints = endpoints(aws, deployment, gateway.url, models)

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

        policies = template_policies(deployment.template, deployment.refs, deployment.attributes)
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

    def _invoke_alias(self, target: str, event: dict[str, Any]) -> InvocationResult:
        """Invokes what the route's integration names (a model's alias), as API Gateway does."""
        from moto.awslambda.utils import get_backend

        assert self.executor is not None
        assert self.deployment is not None
        function, alias = integration_function(target)
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
            qualified = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}"
            qualified += f":{alias}" if alias else ""
            decision = authorizer.authorize_service(
                "apigateway.amazonaws.com", "lambda:InvokeFunction", qualified, source
            )
            if not decision.allowed:
                raise IntegrationDenied(qualified)
        return self.executor.invoke_moto(get_backend(ACCOUNT, REGION), function, alias, event)

    # ---- what runs on its own: alarms, schedules, execution status events, idle workers

    @staticmethod
    def _scheduled_rules() -> list[Any]:
        from moto.events.models import events_backends

        backend = events_backends[ACCOUNT][REGION]
        # Copies: moto's request threads may add a rule meanwhile.
        return [
            rule for bus in list(backend.event_buses.values()) for rule in list(bus.rules.values())
        ]

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
                self.scheduler.tick()
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
