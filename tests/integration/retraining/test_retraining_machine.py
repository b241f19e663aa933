"""The synthesized retraining state machine, executed by moto with its tasks running the real
pipeline and release handlers in-process."""

from __future__ import annotations

import json
import time

import pytest

from modelship.registry.registry import Registry
from modelship.sample_events import load_event
from modelship.training.churn import generate_churn
from modelship.training.tables import table_to_csv_bytes
from tests.conftest import BUCKET
from tests.integration.release_world import World, stable_on
from tests.integration.retraining_template import (
    deploy_retraining,
    outcome_messages,
    run_execution,
    wait_execution,
)

FAST_PLAN = [{"weight": 0.1, "bake_seconds": 0}, {"weight": 0.5, "bake_seconds": 0}]


@pytest.fixture
def pipeline(world: World) -> dict[str, str]:
    deployed = deploy_retraining(world, release_plan=FAST_PLAN)
    stable_on(world, "v1")
    # The challenger's canary is judged against the champion: both serve healthy traffic.
    world.runner.before_invoke = world.judged_with_traffic()
    return deployed


def _upload(world: World, key: str, body: bytes) -> None:
    world.s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def _states(world: World, arn: str) -> list[str]:
    events = world.sfn.get_execution_history(executionArn=arn)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def test_a_better_model_is_registered_canaried_and_promoted(
    world: World, pipeline: dict[str, str]
) -> None:
    _upload(
        world, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21))
    )
    stable = world.alias()["FunctionVersion"]

    result = run_execution(world, pipeline["machine"], {"steps": FAST_PLAN})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    new_model = output["registered"]["version"]
    manifest = Registry(world.s3, BUCKET).show("churn", new_model)
    assert manifest.parent_version == "v1"
    # Register wrote its card: the champion beside it on the same holdout, and the gates.
    card = Registry(world.s3, BUCKET).stored_card("churn", new_model)
    assert card is not None
    assert "| Metric | This version | Champion v1 |" in card
    assert f"Decision: {output['decision']['summary']}." in card
    assert "| min_roc_auc | passed |" in card
    live = world.alias()
    assert live["FunctionVersion"] != stable
    assert world.weights() == {}
    config = world.lambda_.get_function_configuration(
        FunctionName="modelship-predict", Qualifier=live["FunctionVersion"]
    )
    assert config["Environment"]["Variables"]["MODEL_VERSION"] == new_model
    states = _states(world, result["executionArn"])
    assert states[:5] == ["Prepare", "Train", "Evaluate", "Gate", "GatesPassed?"]
    assert {"Register", "CreateRelease", "CanarySteps", "Promote", "Promoted"} <= set(states)
    assert {"Judge", "Extend?"} <= set(states)
    verdicts = [r for r in world.history() if r.action == "verdict"]
    assert [(r.to_model, (r.details or {}).get("outcome")) for r in verdicts] == [
        (new_model, "pass"),
        (new_model, "pass"),
    ]
    (notice,) = outcome_messages(world, pipeline["queue"])
    assert notice["outcome"] == "promoted"
    assert notice["candidate_version"] == new_model
    assert world.runner.errors() == []


def test_a_worse_model_is_rejected_and_the_alias_is_untouched(
    world: World, pipeline: dict[str, str]
) -> None:
    _upload(world, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(seed=5)))
    before = world.alias()
    versions_before = [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")]
    weak = {"algorithm": "gradient_boosting", "params": {"max_iter": 1, "max_depth": 1}}

    result = run_execution(world, pipeline["machine"], {"options": weak, "steps": FAST_PLAN})

    assert result["status"] == "SUCCEEDED", result
    output = json.loads(result["output"])
    assert output["decision"]["passed"] is False
    assert any("< 0.85" in reason for reason in output["decision"]["reasons"])
    assert world.alias()["FunctionVersion"] == before["FunctionVersion"]
    assert world.weights() == {}
    assert [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")] == versions_before
    run_id = result["executionArn"].rsplit(":", 1)[-1]
    decision = json.loads(
        world.s3.get_object(Bucket=BUCKET, Key=f"retraining/churn/{run_id}/decision.json")[
            "Body"
        ].read()
    )
    assert decision["reasons"] == output["decision"]["reasons"]
    (notice,) = outcome_messages(world, pipeline["queue"])
    assert notice["outcome"] == "rejected"


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (b"tenure_months,churned\n1,0\n2,1\n", "missing column"),
        (b"", "is empty"),
        (
            table_to_csv_bytes(generate_churn(n_rows=300, seed=2)).replace(b"\n1", b"\nx1", 1),
            "numeric",
        ),
    ],
    ids=["missing-column", "empty-file", "wrong-type"],
)
def test_a_bad_dataset_fails_with_a_clear_cause_and_registers_nothing(
    world: World, pipeline: dict[str, str], body: bytes, cause: str
) -> None:
    _upload(world, "datasets/churn/bad.csv", body)
    before = world.alias()
    versions_before = [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")]

    result = run_execution(world, pipeline["machine"], {"steps": FAST_PLAN})

    assert result["status"] == "FAILED"
    assert result["error"] == "RetrainingFailed"
    assert "DatasetError" in result["cause"]
    assert cause in result["cause"]
    assert world.alias()["FunctionVersion"] == before["FunctionVersion"]
    assert [e.version for e in Registry(world.s3, BUCKET).list_versions("churn")] == versions_before
    (notice,) = outcome_messages(world, pipeline["queue"])
    assert notice["outcome"] == "failed"
    assert cause in notice["error"]


def test_a_repeated_s3_event_starts_one_execution(world: World, pipeline: dict[str, str]) -> None:
    event = load_event("s3_dataset_created")
    key = event["detail"]["object"]["key"]
    _upload(world, key, table_to_csv_bytes(generate_churn(drift=0.8, seed=21)))

    answers = [
        json.loads(
            world.lambda_.invoke(FunctionName=pipeline["trigger"], Payload=json.dumps(event))[
                "Payload"
            ].read()
        )
        for _ in range(3)
    ]

    assert [a["started"] for a in answers] == [True, False, False]
    executions = world.sfn.list_executions(stateMachineArn=pipeline["machine"])["executions"]
    assert len(executions) == 1
    result = wait_execution(world, executions[0]["executionArn"])
    assert result["status"] == "SUCCEEDED", result
    assert json.loads(result["output"])["dataset"]["key"] == key


def test_cli_retrain_wait_reports_each_state(
    world: World, pipeline: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from modelship.cli import main

    _upload(
        world, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21))
    )

    code = main(
        [
            "retrain",
            "--state-machine",
            pipeline["machine"],
            "--wait",
            "--poll",
            "0.1",
            "--plan",
            "10:0s,100",
        ]
    )

    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line.strip() for line in out.splitlines()]
    entered = [line.split()[1] for line in lines if line.startswith("->")]
    assert entered[:4] == ["Prepare", "Train", "Evaluate", "Gate"]
    assert "Promote" in entered
    assert lines[-1].startswith("SUCCEEDED: promoted")


def _start_retraining_canary(world: World, pipeline: dict[str, str]) -> tuple[str, str]:
    """A retraining run on drifted data, left baking its 10% canary: (execution, candidate)."""
    _upload(
        world, "datasets/churn/2026-11.csv", table_to_csv_bytes(generate_churn(drift=0.8, seed=21))
    )
    arn = world.sfn.start_execution(
        stateMachineArn=pipeline["machine"],
        input=json.dumps({"steps": [{"weight": 0.1, "bake_seconds": 60}]}),
    )["executionArn"]
    deadline = time.monotonic() + 120
    while not world.weights():
        assert time.monotonic() < deadline, "the canary never started"
        time.sleep(0.1)
    (candidate,) = world.weights()
    return arn, candidate


def test_a_run_stopped_mid_canary_is_rolled_back_by_its_aborted_event(
    world: World, pipeline: dict[str, str]
) -> None:
    from modelship import names
    from modelship.local.events import execution_status_change_event

    world.create_function("modelship-rollback", names.ROLLBACK_HANDLER, world.release_env())
    stable = world.alias()["FunctionVersion"]
    arn, candidate = _start_retraining_canary(world, pipeline)
    deadline = time.monotonic() + 120

    # The run is stopped while its canary bakes: no Catch runs, the canary stays...
    world.sfn.stop_execution(executionArn=arn, cause="operator stopped it")
    stopped = world.sfn.describe_execution(executionArn=arn)
    while stopped["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not stop"
        time.sleep(0.05)
        stopped = world.sfn.describe_execution(executionArn=arn)
    assert world.weights() == {candidate: 0.1}
    # AWS reports a stopped execution as ABORTED (moto reports FAILED, States.Runtime).
    stopped = {**stopped, "status": "ABORTED", "error": None, "cause": "operator stopped it"}
    assert "candidate" not in json.loads(stopped["input"])

    # ...until EventBridge delivers the ABORTED status to the rollback function.
    response = world.lambda_.invoke(
        FunctionName="modelship-rollback",
        Payload=json.dumps(execution_status_change_event(stopped)),
    )

    assert json.loads(response["Payload"].read())["changed"] is True
    assert world.alias()["FunctionVersion"] == stable
    assert world.weights() == {}
    record = world.history()[-1]
    assert (record.action, record.execution, record.from_version) == ("rollback", arn, candidate)


def test_status_shows_a_retraining_canary_and_a_refused_rollout_with_its_cause(
    world: World, pipeline: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from modelship.cli import main
    from tests.integration.release_template import deploy_release_resources

    release_machine = deploy_release_resources(world)
    retraining, candidate = _start_retraining_canary(world, pipeline)
    # A rollout started in the background (`rollout --no-follow`) is refused by the machine:
    # the retraining canary holds the alias.
    refused = world.sfn.start_execution(
        stateMachineArn=release_machine,
        input=json.dumps({"candidate": "1", "steps": [{"weight": 0.05, "bake_seconds": 0}]}),
    )["executionArn"]
    assert wait_execution(world, refused)["status"] == "FAILED"
    target = ["--function", "modelship-predict", "--bucket", BUCKET]
    machines = ["--state-machine", release_machine, "--retrain-state-machine", pipeline["machine"]]

    capsys.readouterr()
    assert main(["status", *target, *machines, "--output", "json"]) == 0
    out = capsys.readouterr().out  # the run's handlers log to stdout meanwhile, one line each
    status, _ = json.JSONDecoder().raw_decode(out, out.index("{\n"))
    assert main(["status", *target, *machines]) == 0
    text = capsys.readouterr().out
    world.sfn.stop_execution(executionArn=retraining)

    runs = {run["execution"]: run for run in status["rollouts"]}
    assert runs[retraining]["status"] == "RUNNING"
    assert runs[retraining]["kind"] == "retraining"
    assert runs[refused]["status"] == "FAILED"
    assert "another canary" in runs[refused]["cause"]
    assert status["candidate"]["version"] == candidate
    assert "none running" not in text
    assert "another canary" in text
