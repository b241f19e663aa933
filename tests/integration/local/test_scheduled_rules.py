"""Scheduled rules on the emulator: a rate rule stored in moto fires its Lambda target on the
emulated clock (time_scale times faster), through the same IAM-checked delivery as every
other event; a rule with only a schedule matches no event."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from modelship.local.eventbridge import EventBridgeDelivery
from modelship.local.iam import Authorizer, template_policies
from modelship.local.iam.evaluator import Evaluator
from modelship.local.scheduler import EmulatedClock, Scheduler

ACCOUNT, REGION = "123456789012", "us-east-1"
FUNCTION = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:stack-Monitor"
START = datetime(2026, 3, 14, 10, 0, tzinfo=UTC)


@dataclass
class Invocation:
    function: Any
    error: str | None = None
    failed: bool = False
    payload: Any = None


@dataclass
class RecordingExecutor:
    """Stands in for the worker processes: records what would have run."""

    invoked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke_moto(self, backend: Any, arn: str, alias: Any, payload: Any) -> Invocation:
        self.invoked.append((arn, payload))
        return Invocation(function=type("F", (), {"version": "$LATEST"})())


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    events: Any
    executor: RecordingExecutor
    delivery: EventBridgeDelivery
    scheduler: Scheduler
    monotonic: FakeMonotonic
    activity: list[tuple[str, dict[str, Any]]]

    def run_for(self, seconds: float) -> list[str]:
        """Advances real time by `seconds` and runs the scheduler; waits for deliveries."""
        self.monotonic.now += seconds
        before = set(threading.enumerate())
        fired = self.scheduler.tick()
        # The deliveries this tick started (other daemon threads, such as the IAM
        # evaluator's, live on).
        for thread in set(threading.enumerate()) - before:
            thread.join(timeout=5)
        return fired


@pytest.fixture(scope="module")
def evaluator() -> Iterator[Evaluator]:
    evaluator = Evaluator()
    yield evaluator
    evaluator.stop()


def _authorizer(evaluator: Evaluator, rule_arn: str) -> Authorizer:
    template = {
        "Resources": {
            "MonitorScheduleInvoke": {
                "Type": "AWS::Lambda::Permission",
                "Properties": {
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": FUNCTION,
                    "Principal": "events.amazonaws.com",
                    "SourceArn": rule_arn,
                },
            }
        }
    }
    return Authorizer(template_policies(template, {}, {}), evaluator)


@pytest.fixture
def world(evaluator: Evaluator) -> Iterator[World]:
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        rule_arn = events.put_rule(Name="stack-MonitorSchedule", ScheduleExpression="rate(1 hour)")[
            "RuleArn"
        ]
        events.put_targets(
            Rule="stack-MonitorSchedule", Targets=[{"Id": "Target0", "Arn": FUNCTION}]
        )
        activity: list[tuple[str, dict[str, Any]]] = []
        executor = RecordingExecutor()
        delivery = EventBridgeDelivery(
            executor,  # type: ignore[arg-type]
            sfn=None,
            record=lambda kind, detail: activity.append((kind, detail)),
            authorizer=_authorizer(evaluator, rule_arn),
        )
        monotonic = FakeMonotonic()

        def rules() -> list[Any]:
            from moto.events.models import events_backends

            backend = events_backends[ACCOUNT][REGION]
            return [r for bus in backend.event_buses.values() for r in bus.rules.values()]

        scheduler = Scheduler(
            rules,
            delivery.deliver,
            delivery.record,
            EmulatedClock(30.0, START, monotonic),
            REGION,
            ACCOUNT,
        )
        scheduler.advisories()
        yield World(events, executor, delivery, scheduler, monotonic, activity)


def test_a_rate_rule_fires_its_lambda_target_every_interval_divided_by_the_time_scale(
    world: World,
) -> None:
    # rate(1 hour) at time scale 30: every 120 s of real time.
    assert world.run_for(119) == []
    assert world.executor.invoked == []

    assert world.run_for(1) == ["stack-MonitorSchedule"]

    [(arn, event)] = world.executor.invoked
    assert arn == FUNCTION
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/stack-MonitorSchedule"]
    assert event["detail"] == {}
    # The scheduled moment on the emulated clock: one hour after the start.
    assert event["time"] == "2026-03-14T11:00:00Z"
    kinds = [kind for kind, _ in world.activity]
    assert kinds == ["schedule-fired", "event-delivered", "event-handled"]

    assert world.run_for(60) == []
    assert world.run_for(60) == ["stack-MonitorSchedule"]
    assert world.executor.invoked[-1][1]["time"] == "2026-03-14T12:00:00Z"


def test_a_rule_fires_once_after_a_stall_then_keeps_its_interval(world: World) -> None:
    assert world.run_for(120 * 5 + 30) == ["stack-MonitorSchedule"]
    assert len(world.executor.invoked) == 1
    assert world.run_for(89) == []
    assert world.run_for(1) == ["stack-MonitorSchedule"]


def test_a_disabled_rule_does_not_fire(world: World) -> None:
    world.events.disable_rule(Name="stack-MonitorSchedule")

    assert world.run_for(600) == []
    assert world.executor.invoked == []


def test_a_target_without_a_permission_for_this_rule_is_not_invoked(
    world: World, evaluator: Evaluator
) -> None:
    world.delivery.authorizer = _authorizer(
        evaluator, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/another-rule"
    )

    assert world.run_for(120) == ["stack-MonitorSchedule"]

    assert world.executor.invoked == []
    assert [kind for kind, _ in world.activity] == ["schedule-fired", "event-delivery-failed"]


def test_a_schedule_only_rule_matches_no_event(world: World) -> None:
    alarm_event = {
        "source": "aws.cloudwatch",
        "detail-type": "CloudWatch Alarm State Change",
        "detail": {"alarmName": "x", "state": {"value": "ALARM"}},
    }

    assert world.delivery.put(alarm_event) == 0
    assert world.executor.invoked == []


def test_an_expression_the_emulator_cannot_compute_is_an_advisory_not_a_firing(
    world: World,
) -> None:
    world.events.put_rule(Name="stack-MonthEnd", ScheduleExpression="cron(0 3 L * ? *)")
    world.events.put_targets(Rule="stack-MonthEnd", Targets=[{"Id": "T", "Arn": FUNCTION}])

    fired = world.run_for(86_400 * 40 / 30)  # 40 emulated days

    assert "stack-MonthEnd" not in fired
    advisories = [d["finding"] for kind, d in world.activity if kind == "deploy-advisory"]
    assert len(advisories) == 1
    assert "stack-MonthEnd" in advisories[0]
    assert "not emulated" in advisories[0]
