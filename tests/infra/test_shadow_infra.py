"""Shadow releases in the template: the serving versions may read the shadow state and invoke
the function's own versions, without a dependency cycle, and no alarm counts a shadow's
invocations or metrics."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Template

from modelship import names
from tests.infra.template_queries import logical_id_starting

SHADOW_METRICS = {value for key, value in vars(names).items() if key.startswith("METRIC_SHADOW_")}


def _shadow_policy(template: Template) -> tuple[str, dict[str, Any]]:
    role_id = logical_id_starting(template, "AWS::IAM::Role", "PredictRole")
    policies = {
        logical: policy["Properties"]
        for logical, policy in template.find_resources("AWS::IAM::Policy").items()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        and not logical.startswith("PredictRoleDefaultPolicy")
    }
    assert len(policies) == 1, policies
    return next(iter(policies.items()))


def _references(value: Any) -> set[str]:
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        return set().union(*(_references(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_references(v) for v in value))
    return set()


def _dependencies(template: dict[str, Any]) -> dict[str, set[str]]:
    resources = template["Resources"]
    graph: dict[str, set[str]] = {}
    for logical, resource in resources.items():
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else depends
        graph[logical] = (_references(resource.get("Properties", {})) | set(depends)) & set(
            resources
        )
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = list(graph[start])
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph[node])
    return seen


def test_serving_versions_may_read_the_shadow_state_and_invoke_their_own_versions(
    template: Template,
) -> None:
    bucket_id = logical_id_starting(template, "AWS::S3::Bucket", "ModelBucket")
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    _, policy = _shadow_policy(template)

    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}

    assert set(statements) == {"ReadShadowState", "ListShadowState", "MirrorToShadowVersions"}
    assert all(s["Effect"] == "Allow" for s in statements.values())
    read = statements["ReadShadowState"]
    assert read["Action"] == "s3:GetObject"
    # The one key, no wildcard: a shadow's reports and other models' states stay unreadable.
    assert read["Resource"] == {
        "Fn::Join": [
            "",
            [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/" + names.shadow_state_key("churn")],
        ]
    }
    listing = statements["ListShadowState"]
    assert listing["Action"] == "s3:ListBucket"
    assert listing["Resource"] == {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert listing["Condition"] == {
        "StringEquals": {"s3:prefix": [names.shadow_state_key("churn")]}
    }
    invoke = statements["MirrorToShadowVersions"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    # A qualified Invoke is authorized on function:name:version: its own versions only.
    assert invoke["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [function_id, "Arn"]}, ":*"]]}


def test_the_mirror_policy_names_the_function_without_a_dependency_cycle(
    template: Template,
) -> None:
    resources = template.to_json()
    graph = _dependencies(resources)
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    policy_id, _ = _shadow_policy(template)

    assert function_id in _reachable(graph, policy_id)
    assert policy_id not in _reachable(graph, function_id)
    cyclic = [logical for logical in graph if logical in _reachable(graph, logical)]
    assert cyclic == []


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: its own, or those of its math expression."""
    props = alarm["Properties"]
    if "MetricName" in props:
        return [
            {
                "Namespace": props.get("Namespace"),
                "MetricName": props["MetricName"],
                "Dimensions": props.get("Dimensions", []),
            }
        ]
    return [q["MetricStat"]["Metric"] for q in props.get("Metrics", []) if "MetricStat" in q]


def test_no_alarm_reads_a_shadow_metric_or_the_predict_functions_unaliased_invocations(
    template: Template,
) -> None:
    function_id = logical_id_starting(template, "AWS::Lambda::Function", "PredictFunction")
    metrics = [
        metric
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        for metric in _alarm_metrics(alarm)
    ]
    assert metrics

    assert not {m["MetricName"] for m in metrics} & SHADOW_METRICS
    # AWS/Lambda metrics by FunctionName alone count every version's invocations, a shadow's
    # mirrors included; the predict function's alarms read its live alias's (Resource) only.
    lambda_metrics = [
        m
        for m in metrics
        if m["Namespace"] == "AWS/Lambda"
        and any(function_id in _references(d["Value"]) for d in m["Dimensions"])
    ]
    assert lambda_metrics
    for metric in lambda_metrics:
        dimensions = {d["Name"] for d in metric["Dimensions"]}
        assert dimensions == {"FunctionName", "Resource"}, metric
