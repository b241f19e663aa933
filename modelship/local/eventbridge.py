"""EventBridge delivery for the local emulator.

moto stores rules and matches event patterns (prefix, anything-but, numeric, exists ...) but
delivers only to log groups, SQS and buses; S3's EventBridge notifications reach the same
matching code. `EventBridgeDelivery.serve_moto` extends it to the targets modelship uses:
Lambda functions (invoked asynchronously through the executor) and Step Functions state
machines (an execution started with the event as input). Alarm state changes and execution
status changes, which moto never emits, enter through `put`. A Lambda target is invoked
asynchronously: a function error is retried and then recorded in the function's on-failure
destination by its EventInvokeConfig (modelship.local.async_invoke); a target the rule may
not reach is not retried (EventBridge does not retry permission errors) and the event goes to
the target's DeadLetterConfig queue.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from modelship.local.async_invoke import AsyncInvokeConfig, invoke_async, send_to_sqs
from modelship.local.executor import LambdaExecutor
from modelship.local.iam.authorizer import AccessDenied, Authorizer

ActivityRecorder = Callable[[str, dict[str, Any]], None]


def matches(rule: Any, event: Any) -> bool:
    """Whether an enabled rule's event pattern matches. A rule with a schedule and no pattern
    matches no event (moto's empty pattern would match every one); it fires on its schedule
    (modelship.local.scheduler)."""
    if rule.state != "ENABLED" or not rule.event_pattern.get_pattern():
        return False
    return bool(rule.event_pattern.matches_event(event))


def as_delivered(event: dict[str, Any]) -> dict[str, Any]:
    """The event as a target receives it from AWS: ISO time, an id, S3's `etag` spelling."""
    delivered = json.loads(json.dumps(event, default=str))
    moment = delivered.get("time")
    if isinstance(moment, int | float):
        delivered["time"] = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if not delivered.get("id") or delivered.get("id") == "17793124-05d4-b198-2fde-7ededc63b103":
        delivered["id"] = str(uuid.uuid4())
    obj = (delivered.get("detail") or {}).get("object")
    if delivered.get("source") == "aws.s3" and isinstance(obj, dict) and "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    return dict(delivered)


class EventBridgeDelivery:
    def __init__(
        self,
        executor: LambdaExecutor,
        sfn: Any,
        record: ActivityRecorder,
        account: str = "123456789012",
        region: str = "us-east-1",
        authorizer: Authorizer | None = None,
    ) -> None:
        self.executor = executor
        # With IAM enforcement on: targets are reached only as AWS would allow.
        self.authorizer = authorizer
        self.sfn = sfn
        self.record = record
        self.account = account
        self.region = region
        # Function name -> its EventInvokeConfig (Lambda's defaults for any other).
        self.async_invoke: dict[str, AsyncInvokeConfig] = {}
        self.send = send_to_sqs(account, region)

    def put(self, event: Any) -> int:
        """Sends an AWS service event to every matching rule of every bus; returns how many
        rules matched."""
        from moto.events.models import events_backends

        backend = events_backends[self.account][self.region]
        matched = 0
        for bus in list(backend.event_buses.values()):
            for rule in list(bus.rules.values()):
                if matches(rule, event):
                    matched += 1
                    rule.send_to_targets(event, transform_input=False)
        return matched

    def deliver(self, rule: Any, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Sends a matched (or scheduled) event to the rule's Lambda and Step Functions
        targets; returns the targets it could not deliver to (moto handles those)."""
        from moto.awslambda.utils import get_backend

        delivered = as_delivered(event)
        others = []
        for target in rule.targets:
            arn = str(target["Arn"])
            payload = json.loads(target["Input"]) if target.get("Input") else delivered
            what = {"rule": rule.name, "target": arn, "detail-type": event.get("detail-type")}
            refused = self._refused(rule, target)
            if refused is not None:
                # EventBridge reports a target it may not reach as a failed invocation.
                self.record("event-delivery-failed", {**what, "reason": refused})
                dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
                if dead_letter:
                    self.send(str(dead_letter), json.dumps(delivered))
                continue
            if arn.startswith("arn:aws:lambda:"):
                backend = get_backend(self.account, self.region)
                self.record("event-delivered", what)
                threading.Thread(
                    target=self._invoke, args=(backend, arn, payload, what), daemon=True
                ).start()
            elif arn.startswith("arn:aws:states:"):
                self.record("event-delivered", what)
                threading.Thread(target=self._start, args=(arn, payload, what), daemon=True).start()
            else:
                others.append(target)
        return others

    def _refused(self, rule: Any, target: dict[str, Any]) -> str | None:
        """Why AWS would not let this rule reach this target (None: it would)."""
        if self.authorizer is None:
            return None
        arn = str(target["Arn"])
        if arn.startswith("arn:aws:lambda:"):
            # A Lambda target is invoked by events.amazonaws.com under the function's
            # resource policy (AWS::Lambda::Permission), with the rule as aws:SourceArn.
            decision = self.authorizer.authorize_service(
                "events.amazonaws.com", "lambda:InvokeFunction", arn, str(rule.arn)
            )
            return None if decision.allowed else f"lambda:InvokeFunction {decision.result}"
        if arn.startswith("arn:aws:states:"):
            # Other targets are reached with the target's role.
            role = target.get("RoleArn")
            if not role:
                return "the target has no RoleArn for states:StartExecution"
            try:
                self.authorizer.authorize_call(
                    str(role), "events", "stepfunctions", "StartExecution", {"stateMachineArn": arn}
                )
            except AccessDenied as denied:
                return str(denied)
        return None

    def _invoke(self, backend: Any, arn: str, payload: Any, what: dict[str, Any]) -> None:
        def attempt() -> tuple[bool, Any, str]:
            result = self.executor.invoke_moto(backend, arn, None, payload)
            return result.failed, result.error or result.payload, result.function.version

        name = arn.split(":")[6]
        config = self.async_invoke.get(name, AsyncInvokeConfig())
        done = invoke_async(attempt, payload, arn, config, self.send)
        outcome = {**what, "attempts": done.attempts}
        if done.failed:
            outcome["error"] = done.answer
            outcome["on_failure"] = config.on_failure if done.record else None
        else:
            outcome["error"] = None
            outcome["result"] = done.answer
        self.record("event-handled", outcome)

    def _start(self, arn: str, payload: Any, what: dict[str, Any]) -> None:
        started = self.sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload))
        self.record("event-handled", {**what, "execution": started["executionArn"]})

    @contextlib.contextmanager
    def serve_moto(self) -> Iterator[None]:
        """While active, moto's rules deliver to Lambda and Step Functions targets."""
        from moto.events.models import Rule

        original = Rule.send_to_targets
        delivery = self

        def send_to_targets(rule: Any, event: Any, transform_input: bool = True) -> None:
            if not matches(rule, event):
                return
            others = delivery.deliver(rule, event)
            if others:
                with mock.patch.object(rule, "targets", others):
                    original(rule, event, transform_input)

        with mock.patch.object(Rule, "send_to_targets", send_to_targets):
            yield
