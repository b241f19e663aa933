"""The local emulator's pure parts: deployment order, EMF to metric data, alarm decisions,
weighted version choice, EventBridge delivery shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelship.local.alarms import evaluate_math, next_state
from modelship.local.deployer import Deployer, UnsupportedResource, deployment_order
from modelship.local.eventbridge import as_delivered
from modelship.local.executor import pick_version
from modelship.local.metrics import emf_metric_data


def test_resources_are_deployed_after_what_they_refer_to() -> None:
    resources = {
        "Trigger": {"Properties": {"Env": {"Ref": "Machine"}}},
        "Machine": {"Properties": {"Definition": {"Fn::Sub": "${Task.Arn} in ${AWS::Region}"}}},
        "Task": {"Properties": {"Role": {"Fn::GetAtt": ["Role", "Arn"]}}},
        "Role": {"Properties": {}},
        "Alias": {"Properties": {}, "DependsOn": "Task"},
    }

    order = deployment_order(resources)

    assert order.index("Role") < order.index("Task") < order.index("Machine")
    assert order.index("Machine") < order.index("Trigger")
    assert order.index("Task") < order.index("Alias")


def test_a_template_with_an_unsupported_resource_is_refused_by_name() -> None:
    template = {
        "Resources": {
            "Table1234ABCD": {"Type": "AWS::DynamoDB::Table"},
            "Policy": {"Type": "AWS::IAM::Policy"},
        }
    }

    with pytest.raises(UnsupportedResource, match=r"Table1234ABCD \(AWS::DynamoDB::Table\)"):
        Deployer(clients=None, cdk_out=Path(".")).check(template)  # type: ignore[arg-type]


def test_dead_letter_queues_and_async_invoke_configs_are_accepted() -> None:
    template = {
        "Resources": {
            "Queue1234ABCD": {"Type": "AWS::SQS::Queue"},
            "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy"},
            "InvokeConfig": {"Type": "AWS::Lambda::EventInvokeConfig"},
        }
    }

    Deployer(clients=None, cdk_out=Path(".")).check(template)  # type: ignore[arg-type]


def test_emf_becomes_one_datum_per_metric_and_dimension_set() -> None:
    document = {
        "_aws": {
            "Timestamp": 1_795_755_870_324,
            "CloudWatchMetrics": [
                {
                    "Namespace": "modelship",
                    "Dimensions": [["ModelVersion", "service"], ["service"]],
                    "Metrics": [{"Name": "Requests", "Unit": "Count"}],
                }
            ],
        },
        "ModelVersion": "v2",
        "service": "predict",
        "Requests": [1.0],
    }

    data = emf_metric_data(document)

    assert [namespace for namespace, _ in data] == ["modelship", "modelship"]
    assert [d["Dimensions"] for _, d in data] == [
        [{"Name": "ModelVersion", "Value": "v2"}, {"Name": "service", "Value": "predict"}],
        [{"Name": "service", "Value": "predict"}],
    ]
    assert {d["Value"] for _, d in data} == {1.0}
    assert data[0][1]["Timestamp"].timestamp() == pytest.approx(1_795_755_870.324)


def _alarm(**overrides: Any) -> dict[str, Any]:
    return {
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 5.0,
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,
        "TreatMissingData": "missing",
        "StateValue": "OK",
        **overrides,
    }


def test_m_of_n_needs_enough_breaching_datapoints() -> None:
    assert next_state(_alarm(), [10.0, 1.0, 1.0])[0] == "OK"
    assert next_state(_alarm(), [10.0, None, 6.0])[0] == "ALARM"


@pytest.mark.parametrize(
    ("treatment", "state"),
    [
        ("missing", "INSUFFICIENT_DATA"),
        ("notBreaching", "OK"),
        ("breaching", "ALARM"),
        ("ignore", "OK"),  # keeps the current state
    ],
)
def test_no_datapoints_follow_treat_missing_data(treatment: str, state: str) -> None:
    assert next_state(_alarm(TreatMissingData=treatment), [None, None, None])[0] == state


def test_missing_datapoints_count_as_breaching_when_told_to() -> None:
    alarm = _alarm(TreatMissingData="breaching")
    assert next_state(alarm, [None, 1.0, 10.0])[0] == "ALARM"
    assert next_state(_alarm(TreatMissingData="notBreaching"), [None, 1.0, 10.0])[0] == "OK"


def test_metric_math_supports_the_drift_alarms_if() -> None:
    expression = "100 * outside / IF(numeric > 0, numeric, 1)"
    assert evaluate_math(expression, {"outside": 3, "numeric": 60}) == pytest.approx(5.0)
    assert evaluate_math(expression, {"outside": 0, "numeric": 0}) == 0.0


def test_metric_math_fill_stands_in_for_a_query_without_datapoints() -> None:
    expression = "IF(FILL(invocations, 0) >= 20, 100 * FILL(errors, 0) / FILL(invocations, 0), 0)"
    assert evaluate_math(expression, {"invocations": 40}) == 0.0
    assert evaluate_math(expression, {"invocations": 40, "errors": 4}) == pytest.approx(10.0)
    assert evaluate_math(expression, {"errors": 1}) == 0.0


def test_a_version_is_picked_by_the_alias_weights() -> None:
    weights = {"3": 0.2}
    assert pick_version("2", weights, draw=lambda: 0.1) == "3"
    assert pick_version("2", weights, draw=lambda: 0.2) == "2"
    assert pick_version("2", {}, draw=lambda: 0.0) == "2"


def test_delivered_s3_events_look_like_aws_ones() -> None:
    moto_event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "time": 1_795_755_870.0,
        "detail": {"object": {"key": "datasets/churn/a.csv", "eTag": "abc"}},
    }

    delivered = as_delivered(moto_event)

    assert delivered["detail"]["object"] == {"key": "datasets/churn/a.csv", "etag": "abc"}
    assert delivered["time"].endswith("Z")
    assert delivered["id"]


def test_a_listening_port_is_reported_in_use_and_a_closed_one_is_free() -> None:
    import socket

    from modelship.local.emulator import PortInUse, require_free_port

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(PortInUse, match=f"127.0.0.1:{port} is in use"):
            require_free_port("127.0.0.1", port)
    # After a connection closed on it the port sits in TIME_WAIT; servers reuse it.
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen()
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()
            client.close()
    require_free_port("127.0.0.1", port)


def test_the_stage_throttling_and_async_invoke_configs_are_kept_for_the_gateway_and_delivery() -> (
    None
):
    from modelship.local.deployment import Deployment

    deployer = Deployer(clients=None, cdk_out=Path("."))  # type: ignore[arg-type]
    deployer.deployment = Deployment(stack_name="app")
    deployer.deployment.refs["Rollback"] = "app-Rollback"
    deployer.deployment.attributes["Queue.Arn"] = "arn:aws:sqs:us-east-1:123456789012:app-Queue"
    stage = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "StageName": "$default",
            "DefaultRouteSettings": {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50},
        },
    }
    config = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "Rollback"},
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        },
    }

    deployer._not_emulated("Stage", stage)
    deployer._not_emulated("Config", config)

    kept = deployer.deployment
    assert kept.stage_route_settings == {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
    assert kept.async_invoke["app-Rollback"]["DestinationConfig"]["OnFailure"] == {
        "Destination": "arn:aws:sqs:us-east-1:123456789012:app-Queue"
    }
