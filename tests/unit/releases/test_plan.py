"""One table of rollout plans, run against every reader of the plan grammar: the plan module,
the CLI (`rollout --plan`, `retrain --plan`), the retraining runtime (`RELEASE_PLAN`) and the
CDK context (`releasePlan`). They used to disagree; the first four refusals and acceptances
below are the plans they disagreed on."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from infra_cdk.settings import RetrainingOptions, RetrainingSettingsError, parse_release_plan
from modelship.cli import main
from modelship.env import load
from modelship.errors import ConfigurationError, InvalidRolloutPlan
from modelship.releases.plan import PlanStep, format_plan, parse_plan, steps_from_input
from modelship.retraining.settings import RetrainingSettings

Steps = tuple[PlanStep, ...]

ACCEPTED: list[tuple[str, Steps]] = [
    ("5%:5m,100%", (PlanStep(0.05, 300),)),
    ("10:1.5m,100", (PlanStep(0.1, 90),)),
    ("5:5m,25:10m,100", (PlanStep(0.05, 300), PlanStep(0.25, 600))),
    ("10:10m,50:10m,100", (PlanStep(0.1, 600), PlanStep(0.5, 600))),
    (
        "1:30s, 10:1h, 50:90s, 100%",
        (PlanStep(0.01, 30), PlanStep(0.1, 3600), PlanStep(0.5, 90)),
    ),
    ("12.5%:2000ms,100", (PlanStep(0.125, 2),)),
    (" 5 : 0s ,100", (PlanStep(0.05, 0),)),
    ("5:5m,,100", (PlanStep(0.05, 300),)),
    ("0.0001:1m,99.9999:1m,100", (PlanStep(0.000001, 60), PlanStep(0.999999, 60))),
    ("5:8760h,100", (PlanStep(0.05, 365 * 24 * 3600),)),
]


@dataclass(frozen=True)
class Refused:
    plan: str
    says: str  # what the message must say
    names: str  # the step (or plan) it must name
    # The same plan as JSON steps, for the readers of that form (None: no JSON equivalent).
    as_steps: list[dict[str, Any]] | None = None


REFUSED = [
    Refused(
        "25:1m,5:1m,100",
        "weights must increase",
        "'5:1m'",
        [{"weight": 0.25, "bake_seconds": 60}, {"weight": 0.05, "bake_seconds": 60}],
    ),
    Refused("50:90,100", "needs a unit", "'50:90'"),
    Refused("5:5m,25:10m", "must end with 100", "'5:5m,25:10m'"),
    Refused("5:1m,100.0", "must end with 100", "'5:1m,100.0'"),
    Refused("100", "no canary step", "'100'"),
    Refused("", "must end with 100", "''"),
    Refused("5,100", "needs a bake time", "'5'"),
    Refused("0:1m,100", "between 0 and 100", "'0:1m'", [{"weight": 0, "bake_seconds": 60}]),
    Refused("100:1m,100", "between 0 and 100", "'100:1m'", [{"weight": 1, "bake_seconds": 60}]),
    Refused(
        "99.99999:1m,100",
        "between 0 and 100",
        "'99.99999:1m'",
        [{"weight": 0.9999999, "bake_seconds": 60}],
    ),
    Refused(
        "0.00001:1m,100",
        "between 0 and 100",
        "'0.00001:1m'",
        [{"weight": 0.0000001, "bake_seconds": 60}],
    ),
    Refused(
        "5:1m,5.0000001:1m,100",
        "weights must increase",
        "'5.0000001:1m'",
        [{"weight": 0.05, "bake_seconds": 60}, {"weight": 0.050000001, "bake_seconds": 60}],
    ),
    Refused("nan:1m,100", "not a percentage", "'nan:1m'"),
    Refused("-5:1m,100", "not a percentage", "'-5:1m'", [{"weight": -0.05, "bake_seconds": 60}]),
    Refused("5:soon,100", "not like 30s, 5m or 1h", "'5:soon'"),
    Refused("5:5M,100", "not like 30s, 5m or 1h", "'5:5M'"),
    Refused(
        "5:1500ms,100",
        "whole number of seconds",
        "'5:1500ms'",
        [{"weight": 0.05, "bake_seconds": 1.5}],
    ),
    Refused("5:0.5s,100", "whole number of seconds", "'5:0.5s'"),
    Refused(
        "5:4380h,10:4381h,100",
        "more than a year",
        "'5:4380h,10:4381h,100'",
        [
            {"weight": 0.05, "bake_seconds": 4380 * 3600},
            {"weight": 0.1, "bake_seconds": 4381 * 3600},
        ],
    ),
]


class Context:
    def __init__(self, **values: object) -> None:
        self.values = values

    def try_get_context(self, key: str) -> object:
        return self.values.get(key)


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Execution inputs the CLI would start a state machine with (not started: no AWS)."""
    inputs: list[dict[str, Any]] = []

    def start_retraining(sfn: Any, arn: str, trigger: Any, execution_input: Any) -> Any:
        inputs.append(execution_input)
        return type("Started", (), {"execution_arn": f"{arn}:run"})()

    def start_rollout(sfn: Any, arn: str, execution_input: dict[str, Any]) -> str:
        inputs.append(execution_input)
        return f"{arn}:rollout"

    class Releases:  # the checks `rollout` makes before it starts the execution
        def release(self, version: str) -> None:
            pass

        def status(self, sfn: Any, arn: str) -> Any:
            return type("Status", (), {"rollouts_running": [], "candidate": None})()

        def actor(self) -> str:
            return "arn:aws:iam::123456789012:user/operator"

    monkeypatch.setattr("modelship.retraining.trigger.start_retraining", start_retraining)
    monkeypatch.setattr("modelship.releases.rollout.start_rollout", start_rollout)
    monkeypatch.setattr("modelship.cli.commands.releases.releases_of", lambda target: Releases())
    return inputs


MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:modelship"
ROLLOUT = ["rollout", "--version", "3", "--state-machine", MACHINE, "--no-follow"]
TARGET = ["--function", "predict", "--bucket", "models"]


# ---- accepted, by every reader


@pytest.mark.parametrize(("plan", "steps"), ACCEPTED)
def test_the_plan_module_accepts(plan: str, steps: Steps) -> None:
    assert parse_plan(plan) == steps
    assert steps_from_input([s.as_input() for s in steps]) == steps


@pytest.mark.parametrize(("plan", "steps"), ACCEPTED)
def test_the_cli_rollout_starts_the_plan(
    plan: str, steps: Steps, started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _cli([*ROLLOUT, "--plan", plan, *TARGET], capsys)

    assert status == 0, err
    assert f"rollout of version 3: {format_plan(steps)}" in out
    assert [i["steps"] for i in started] == [[s.as_input() for s in steps]]


@pytest.mark.parametrize(("plan", "steps"), ACCEPTED)
def test_the_cli_retrain_starts_the_plan(
    plan: str, steps: Steps, started: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _cli(["retrain", "--state-machine", MACHINE, "--plan", plan], capsys)

    assert status == 0, err
    assert [i["steps"] for i in started] == [[s.as_input() for s in steps]]


@pytest.mark.parametrize(("plan", "steps"), ACCEPTED)
def test_the_retraining_runtime_accepts(plan: str, steps: Steps) -> None:
    """What the CDK app writes to RELEASE_PLAN is what the retraining functions read."""
    written = json.dumps(list(parse_release_plan(plan)))

    settings = load(
        RetrainingSettings,
        {"MODEL_BUCKET": "models", "MODEL_NAME": "churn", "RELEASE_PLAN": written},
    )

    assert settings.release_plan == steps


@pytest.mark.parametrize(("plan", "steps"), ACCEPTED)
def test_the_cdk_context_accepts(plan: str, steps: Steps) -> None:
    options = RetrainingOptions.from_context(Context(releasePlan=plan))

    assert options.release_plan == tuple(s.as_input() for s in steps)


# ---- refused, by every reader, naming the step


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.plan or "empty")
def test_the_plan_module_refuses(case: Refused) -> None:
    with pytest.raises(InvalidRolloutPlan) as raised:
        parse_plan(case.plan)
    assert case.says in str(raised.value)
    assert case.names in str(raised.value)


CLI_COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "rollout": lambda plan: [*ROLLOUT, f"--plan={plan}", *TARGET],
    "retrain": lambda plan: ["retrain", "--state-machine", MACHINE, f"--plan={plan}"],
}


@pytest.mark.parametrize("command", CLI_COMMANDS)
@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.plan or "empty")
def test_the_cli_refuses_in_one_line(
    command: str,
    case: Refused,
    started: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if command == "retrain" and case.plan == "":
        pytest.skip("`retrain --plan ''` means no plan: the configured releasePlan applies")
    status, out, err = _cli(CLI_COMMANDS[command](case.plan), capsys)

    assert status == 1
    assert out == ""
    assert err.startswith("error [invalid_rollout_plan]: plan")
    assert case.says in err
    assert case.names in err
    assert err.count("\n") == 1
    assert started == []


@pytest.mark.parametrize(
    "case", [c for c in REFUSED if c.as_steps is not None], ids=lambda c: c.plan
)
def test_the_retraining_runtime_refuses(case: Refused) -> None:
    with pytest.raises(ConfigurationError, match="RELEASE_PLAN"):
        load(
            RetrainingSettings,
            {
                "MODEL_BUCKET": "models",
                "MODEL_NAME": "churn",
                "RELEASE_PLAN": json.dumps(case.as_steps),
            },
        )
    with pytest.raises(InvalidRolloutPlan):  # a run's own `steps` (execution input)
        steps_from_input(case.as_steps)


@pytest.mark.parametrize("case", REFUSED, ids=lambda c: c.plan or "empty")
def test_the_cdk_context_refuses(case: Refused) -> None:
    with pytest.raises(RetrainingSettingsError) as raised:
        parse_release_plan(case.plan)
    message = str(raised.value)
    assert message.startswith("releasePlan")
    assert case.says in message
    assert case.names in message
    if case.plan:  # an empty context value means the default plan
        with pytest.raises(RetrainingSettingsError, match="releasePlan"):
            RetrainingOptions.from_context(Context(releasePlan=case.plan))


def test_the_plan_module_needs_only_the_standard_library() -> None:
    """The CDK app imports it: synthesizing must not drag in pydantic, boto3 or sklearn."""
    code = (
        "import sys, modelship.releases.plan as plan\n"
        "heavy = {'pydantic', 'boto3', 'botocore', 'sklearn', 'numpy'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
