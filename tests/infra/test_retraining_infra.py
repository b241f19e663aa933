"""The retraining pipeline as synthesized: state machine shape, triggers, switches, IAM."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra_cdk.resource_names import retrain_state_machine_name, training_job_prefix
from infra_cdk.settings import RetrainingSettingsError, parse_release_plan
from tests.infra.template_queries import Synth, logical_id_starting

PIPELINE = "functions.retraining.app."


def _machine(template: Template) -> dict[str, Any]:
    logical = logical_id_starting(template, "AWS::StepFunctions::StateMachine", "Retraining")
    props = template.find_resources("AWS::StepFunctions::StateMachine")[logical]["Properties"]
    parts = props["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    return {"props": props, "definition": json.loads(text)}


def _role_statements(template: Template, handler: str) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function")
    (role,) = [
        f["Properties"]["Role"]["Fn::GetAtt"][0]
        for f in functions.values()
        if f["Properties"]["Handler"] == handler
    ]
    statements: list[dict[str, Any]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _s3_object_prefixes(statements: list[dict[str, Any]], action: str) -> set[str]:
    prefixes = set()
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action not in actions:
            continue
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            parts = resource["Fn::Join"][1]
            prefixes.add(parts[-1])
    return prefixes


def test_every_task_retries_transient_errors_with_backoff_and_has_a_timeout(
    template: Template,
) -> None:
    states = _machine(template)["definition"]["States"]
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}

    assert {"Prepare", "Train", "Evaluate", "Gate", "Register", "CreateRelease"} <= set(tasks)
    for name, state in tasks.items():
        retry = state["Retry"][0]
        assert "Lambda.TooManyRequestsException" in retry["ErrorEquals"], name
        assert retry["BackoffRate"] == 2, name
        assert "TimeoutSeconds" in state, name
    assert tasks["Train"]["TimeoutSeconds"] == 900 + 30


def _task_functions(definition_string: dict[str, Any]) -> list[tuple[int, str]]:
    """(TimeoutSeconds, the function's logical id) of every Lambda task, the canary steps' Map
    included, read from the definition's Fn::Join."""
    parts = definition_string["Fn::Join"][1]
    text = "".join(
        p if isinstance(p, str) else f"FN:{p['Fn::GetAtt'][0]}" if "Fn::GetAtt" in p else "X"
        for p in parts
    )
    found: list[tuple[int, str]] = []

    def walk(states: dict[str, Any]) -> None:
        for state in states.values():
            # payload_response_only: the task's Resource is the function's ARN.
            if state.get("Type") == "Task" and state["Resource"].startswith("FN:"):
                found.append((state["TimeoutSeconds"], state["Resource"].removeprefix("FN:")))
            for nested in ("Iterator", "ItemProcessor"):
                if nested in state:
                    walk(state[nested]["States"])
            for branch in state.get("Branches", []):
                walk(branch["States"])

    walk(json.loads(text)["States"])
    return found


def test_every_lambda_task_times_out_after_its_function(template: Template) -> None:
    # Lambda stops a function at its own timeout (a Sandbox.Timedout error the task's Catch
    # handles); a task that gave up first would leave its function running, e.g. a Register
    # still writing after the run was reported failed.
    functions = template.find_resources("AWS::Lambda::Function")
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    checked = 0
    for machine in machines.values():
        for task_timeout, function in _task_functions(machine["Properties"]["DefinitionString"]):
            assert task_timeout > functions[function]["Properties"]["Timeout"], function
            checked += 1
    assert checked >= 10


def test_every_step_before_the_release_is_caught_and_ends_failed_after_a_notice(
    template: Template,
) -> None:
    states = _machine(template)["definition"]["States"]

    for name in ("Prepare", "Train", "Evaluate", "Gate", "Register", "CreateRelease"):
        assert states[name]["Catch"][0]["Next"] == "NotifyFailed", name
    assert states["NotifyFailed"]["Next"] == "RetrainingFailed"
    assert states["RetrainingFailed"]["Type"] == "Fail"
    # The registry is only written after the gate passed.
    choice = states["GatesPassed?"]
    assert choice["Choices"][0]["Next"] == "Register"
    assert choice["Default"] == "NotifyRejected"


def test_the_canary_chain_follows_the_release(template: Template) -> None:
    states = _machine(template)["definition"]["States"]

    assert states["CreateRelease"]["Next"] == "CanarySteps"
    assert states["CanarySteps"]["Catch"][0]["Next"] == "Rollback"
    assert states["Promote"]["Next"] == "MarkPromoted"


def test_machine_logs_all_events_and_traces(template: Template) -> None:
    props = _machine(template)["props"]

    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_new_data_under_the_models_prefix_triggers_retraining(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.s3"],
                "detail-type": ["Object Created"],
                "detail": Match.object_like({"object": {"key": [{"prefix": "datasets/churn/"}]}}),
            },
        },
    )


def _retraining_schedules(template: Template) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template.find_resources("AWS::Events::Rule").values()
        if "ScheduleExpression" in r["Properties"]
        and "RetrainingPipelineTrigger" in json.dumps(r["Properties"]["Targets"])
    ]


def test_schedule_is_off_by_default_and_on_with_context(template: Template, synth: Synth) -> None:
    assert _retraining_schedules(template) == []

    scheduled = synth(retrainSchedule="rate(7 days)")

    assert [r["ScheduleExpression"] for r in _retraining_schedules(scheduled)] == ["rate(7 days)"]


def test_sagemaker_switch_runs_training_as_a_sync_job(synth: Synth) -> None:
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelship-train:1"
    template = synth(trainingBackend="sagemaker", sagemakerImageUri=image)

    states = _machine(template)["definition"]["States"]

    train = states["Train"]
    assert train["Resource"].endswith(":states:::sagemaker:createTrainingJob.sync")
    assert train["Parameters"]["AlgorithmSpecification"]["TrainingImage"] == image
    assert train["Next"] == "CollectCandidate"
    # The task outlasts the job's stopping condition: a job past it still uploads and stops.
    max_runtime = train["Parameters"]["StoppingCondition"]["MaxRuntimeInSeconds"]
    assert train["TimeoutSeconds"] > max_runtime
    assert _machine(template)["definition"]["TimeoutSeconds"] >= train["TimeoutSeconds"] + 24 * 3600
    assert states["CollectCandidate"]["Next"] == "Evaluate"
    assert any(
        f["Properties"]["Handler"] == PIPELINE + "collect_candidate"
        for f in template.find_resources("AWS::Lambda::Function").values()
    )


def test_sagemaker_switch_needs_an_image(synth: Synth) -> None:
    with pytest.raises(RetrainingSettingsError, match="sagemakerImageUri"):
        synth(trainingBackend="sagemaker")


def test_lambda_trainer_is_the_default(template: Template) -> None:
    train = _machine(template)["definition"]["States"]["Train"]

    # payload_response_only: the task's resource is the trainer function's ARN itself.
    assert train["Resource"] == "TOKEN"
    assert train["Next"] == "Evaluate"


def test_tasks_write_only_their_own_prefixes(template: Template) -> None:
    assert _s3_object_prefixes(_role_statements(template, PIPELINE + "train"), "s3:PutObject") == {
        "/candidates/churn/*"
    }
    assert _s3_object_prefixes(_role_statements(template, PIPELINE + "gate"), "s3:PutObject") == {
        "/retraining/churn/*"
    }
    assert _s3_object_prefixes(
        _role_statements(template, PIPELINE + "register"), "s3:PutObject"
    ) == {"/models/churn/*"}
    assert (
        _s3_object_prefixes(_role_statements(template, PIPELINE + "prepare"), "s3:PutObject")
        == set()
    )


def test_release_plan_parsing() -> None:
    assert parse_release_plan("10:5m,50:1h,100") == (
        {"weight": 0.1, "bake_seconds": 300},
        {"weight": 0.5, "bake_seconds": 3600},
    )
    with pytest.raises(RetrainingSettingsError):
        parse_release_plan("10:5m")


def test_training_image_must_be_an_ecr_image(synth: Synth) -> None:
    with pytest.raises(RetrainingSettingsError, match="is not an ECR image"):
        synth(trainingBackend="sagemaker", sagemakerImageUri="docker.io/library/python:3.12")


def _granted(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    def actions(statement: dict[str, Any]) -> list[str]:
        raw = statement["Action"]
        return raw if isinstance(raw, list) else [raw]

    return [s for s in statements if action in actions(s)]


def test_create_release_may_call_what_releases_create_calls(template: Template) -> None:
    statements = _role_statements(template, PIPELINE + "create_release")
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    function_arn = {"Fn::GetAtt": [predict, "Arn"]}

    # function_updated_v2 (the wait after re-pinning $LATEST) polls GetFunction.
    for action in (
        "lambda:GetFunction",
        "lambda:UpdateFunctionConfiguration",
        "lambda:PublishVersion",
        "lambda:GetAlias",
    ):
        (grant,) = _granted(statements, action)
        assert grant["Resource"] == function_arn, action
    resources = [g["Resource"] for g in _granted(statements, "lambda:GetFunctionConfiguration")]
    assert function_arn in resources
    assert {"Fn::Join": ["", [function_arn, ":*"]]} in resources


SAGEMAKER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/modelship-train:1"
TRAINING_JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


def _training_job_role_statements(template: Template) -> list[dict[str, Any]]:
    (role,) = [
        name for name in template.find_resources("AWS::IAM::Role") if "TrainingJobRole" in name
    ]
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_sagemaker_output_path_is_an_s3_uri(synth: Synth) -> None:
    template = synth(trainingBackend="sagemaker", sagemakerImageUri=SAGEMAKER_IMAGE)

    output = _machine(template)["definition"]["States"]["Train"]["Parameters"]["OutputDataConfig"]

    assert output["S3OutputPath"].startswith("s3://TOKEN/candidates/churn/sagemaker/")


@pytest.mark.parametrize(("stage", "model"), [("dev", "churn"), ("s" * 20, "m" * 63)])
def test_training_job_name_is_valid_and_unique_per_run(
    synth: Synth, stage: str, model: str
) -> None:
    template = synth(
        stage=stage, modelName=model, trainingBackend="sagemaker", sagemakerImageUri=SAGEMAKER_IMAGE
    )

    expression = _machine(template)["definition"]["States"]["Train"]["Parameters"][
        "TrainingJobName.$"
    ]

    # The hash covers the execution, the state's entry time and the retry: a run id repeats
    # (same dataset after 90 days, a recreated stack), SageMaker job names must not.
    attempt = (
        r"States\.Format\('\{\}/\{\}/\{\}', \$\$\.Execution\.Id, "
        r"\$\$\.State\.EnteredTime, \$\$\.State\.RetryCount\)"
    )
    match = re.fullmatch(
        r"States\.Format\('(.+)-\{\}', States\.Hash\(" + attempt + r", 'MD5'\)\)", expression
    )
    assert match, expression
    longest = f"{match.group(1)}-{'f' * 32}"  # MD5 in hex: 32 digits
    assert len(longest) <= 63
    assert TRAINING_JOB_NAME.match(longest), longest


def test_training_job_prefixes_differ_per_stack_and_model() -> None:
    long_model = "m" * 60
    prefixes = {
        training_job_prefix("modelship-dev", "churn"),
        training_job_prefix("modelship-prod", "churn"),
        training_job_prefix("modelship-dev", long_model + "a"),
        training_job_prefix("modelship-dev", long_model + "b"),
    }
    assert len(prefixes) == 4


def test_training_job_role_reads_only_its_datasets(synth: Synth) -> None:
    template = synth(trainingBackend="sagemaker", sagemakerImageUri=SAGEMAKER_IMAGE)
    statements = _training_job_role_statements(template)

    on_everything = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in on_everything] == ["ecr:GetAuthorizationToken"]
    s3_actions = {
        action
        for s in statements
        for action in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        if action.startswith("s3:")
    }
    assert s3_actions == {"s3:GetObject", "s3:ListBucket", "s3:PutObject"}


def test_ecr_repository_arn_uses_the_stack_partition(synth: Synth) -> None:
    template = synth(trainingBackend="sagemaker", sagemakerImageUri=SAGEMAKER_IMAGE)

    (pull,) = [s for s in _training_job_role_statements(template) if s.get("Sid") == "PullImage"]

    assert pull["Resource"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":ecr:us-east-1:123456789012:repository/modelship-train",
            ],
        ]
    }


STATE_MACHINE_NAME = re.compile(r"^[0-9A-Za-z_-]{1,80}$")


def test_retraining_state_machine_name_always_fits(synth: Synth) -> None:
    template = synth(stage="s" * 20, modelName="m" * 63)

    name = _machine(template)["props"]["StateMachineName"]

    assert STATE_MACHINE_NAME.match(name), name


def test_retraining_state_machine_names_stay_unique() -> None:
    head = "m" * 70
    assert retrain_state_machine_name("modelship-dev", head + "a") != retrain_state_machine_name(
        "modelship-dev", head + "b"
    )
    # Names that fit are kept as they were.
    assert retrain_state_machine_name("modelship-dev", "churn") == "modelship-dev-retrain-churn"


def test_state_machine_logs_go_to_vended_log_groups(template: Template) -> None:
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(machines) == 2
    for machine in machines.values():
        (destination,) = machine["Properties"]["LoggingConfiguration"]["Destinations"]
        group = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        assert groups[group]["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")


# Step Functions best practices, "Handle Lambda service exceptions".
LAMBDA_SERVICE_EXCEPTIONS = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}


def _lambda_tasks(states: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, state in states.items():
        if state["Type"] == "Map":
            found |= _lambda_tasks(state["ItemProcessor"]["States"])
        elif state["Type"] == "Task" and "sagemaker" not in state["Resource"]:
            found[name] = state
    return found


def test_every_lambda_task_of_both_machines_retries_lambda_service_exceptions(
    template: Template,
) -> None:
    machines = template.find_resources("AWS::StepFunctions::StateMachine").values()
    checked = 0
    for machine in machines:
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        definition = json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts))
        for name, state in _lambda_tasks(definition["States"]).items():
            retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
            assert retried >= LAMBDA_SERVICE_EXCEPTIONS, (name, LAMBDA_SERVICE_EXCEPTIONS - retried)
            checked += 1
    assert checked >= 10


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def _resources(statement: dict[str, Any]) -> list[Any]:
    resource = statement["Resource"]
    return resource if isinstance(resource, list) else [resource]


def test_every_role_that_publishes_versions_may_wait_for_them_to_be_active(
    template: Template,
) -> None:
    # Releases.create waits with the published_version_active waiter: GetFunctionConfiguration
    # with the version as qualifier, which Lambda authorizes on the qualified ARN only.
    predict = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    qualified = {"Fn::Join": ["", [{"Fn::GetAtt": [predict, "Arn"]}, ":*"]]}
    publishing_roles = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if not any("lambda:PublishVersion" in _actions(s) for s in statements):
            continue
        publishing_roles += policy["Properties"]["Roles"]
        assert any(
            s["Effect"] == "Allow"
            and "lambda:GetFunctionConfiguration" in _actions(s)
            and qualified in _resources(s)
            for s in statements
        ), policy["Properties"]["Roles"]
    assert publishing_roles


def test_prepare_may_list_the_optional_schema_key(template: Template) -> None:
    # declared_schema lists datasets/<name>/schema.json before reading it: the listing is
    # what tells "absent" from "denied".
    from fnmatch import fnmatchcase

    patterns = [
        pattern
        for s in _role_statements(template, PIPELINE + "prepare")
        if "s3:ListBucket" in _actions(s)
        for pattern in s["Condition"]["StringLike"]["s3:prefix"]
    ]
    assert any(fnmatchcase("datasets/churn/schema.json", p) for p in patterns), patterns


class _Context:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def try_get_context(self, key: str) -> Any:
        return self.values.get(key)


def test_a_schedule_with_a_trailing_newline_is_refused() -> None:
    from infra_cdk.settings import RetrainingOptions

    assert RetrainingOptions.from_context(_Context(retrainSchedule="rate(7 days)")).schedule
    with pytest.raises(RetrainingSettingsError, match="retrainSchedule"):
        RetrainingOptions.from_context(_Context(retrainSchedule="rate(7 days)\n"))


@pytest.mark.parametrize("plan", ["99.99999:1m,100", "0.00001:1m,100"])
def test_release_plan_steps_that_round_out_of_range_are_refused(plan: str) -> None:
    with pytest.raises(RetrainingSettingsError, match="releasePlan"):
        parse_release_plan(plan)
