"""Nested stacks are folded into the parent template before the emulator checks, authorizes
or provisions anything: templates found through cdk.out, parameters passed, outputs read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelship.local.deployer import find_template, load_flat_template
from modelship.local.deployment import UnsupportedResource, physical_name
from modelship.local.nested_stacks import NESTED_STACK_METADATA, flatten
from modelship.local.template import resolve

NESTED_ID = "ModelForestNestedStackModelForestNestedStackResource1A2B3C4D"
KEY = "0123abcd.json"


def _nested_stack(parameters: dict[str, Any], key: str = KEY, **extra: Any) -> dict[str, Any]:
    url = {"Fn::Join": ["", ["https://s3.", {"Ref": "AWS::Region"}, ".amazonaws.com/b/", key]]}
    return {
        "Type": "AWS::CloudFormation::Stack",
        "Properties": {"TemplateURL": url, "Parameters": parameters},
        **extra,
    }


CHILD = {
    "Parameters": {"referencetoBucketArn": {"Type": "String"}},
    "Resources": {
        "RoleABCD1234": {"Type": "AWS::IAM::Role", "Properties": {"Description": "child"}},
        "PolicyABCD1234": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "RoleABCD1234"}],
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:GetObject",
                            "Resource": {"Fn::Sub": "${referencetoBucketArn}/${RoleABCD1234}/*"},
                        }
                    ]
                },
            },
            "DependsOn": "RoleABCD1234",
        },
    },
    "Outputs": {"RoleArnOut": {"Value": {"Fn::GetAtt": ["RoleABCD1234", "Arn"]}}},
}


def _parent(**nested_extra: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "BucketABCD1234": {"Type": "AWS::S3::Bucket"},
            NESTED_ID: _nested_stack(
                {"referencetoBucketArn": {"Fn::GetAtt": ["BucketABCD1234", "Arn"]}},
                **nested_extra,
            ),
            "Consumer": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "DisplayName": {"Fn::GetAtt": [NESTED_ID, "Outputs.RoleArnOut"]},
                    "TopicName": {"Fn::Sub": "t-${" + NESTED_ID + ".Outputs.RoleArnOut}"},
                },
                "DependsOn": [NESTED_ID],
            },
        }
    }


def _cdk_out(tmp_path: Path, parent: dict[str, Any], child: dict[str, Any] = CHILD) -> Path:
    (tmp_path / "app-dev.template.json").write_text(json.dumps(parent))
    (tmp_path / "appdevModelForestABCD.nested.template.json").write_text(json.dumps(child))
    assets = {
        "files": {
            "hash": {
                "source": {"path": "appdevModelForestABCD.nested.template.json"},
                "destinations": {"current": {"objectKey": KEY}},
            }
        }
    }
    (tmp_path / "app-dev.assets.json").write_text(json.dumps(assets))
    return tmp_path / "app-dev.template.json"


def test_the_nested_resources_join_the_parent_under_the_nested_stacks_construct_id(
    tmp_path: Path,
) -> None:
    flat = load_flat_template(_cdk_out(tmp_path, _parent()))

    resources = flat["Resources"]
    assert sorted(resources) == [
        "BucketABCD1234",
        "Consumer",
        "ModelForestPolicyABCD1234",
        "ModelForestRoleABCD1234",
    ]
    policy = resources["ModelForestPolicyABCD1234"]
    assert policy["Properties"]["Roles"] == [{"Ref": "ModelForestRoleABCD1234"}]
    assert policy["DependsOn"] == ["ModelForestRoleABCD1234"]
    assert policy["Metadata"][NESTED_STACK_METADATA] == NESTED_ID
    assert NESTED_STACK_METADATA not in resources["BucketABCD1234"].get("Metadata", {})


def test_parameters_become_the_parents_values_and_outputs_the_nested_values(
    tmp_path: Path,
) -> None:
    flat = load_flat_template(_cdk_out(tmp_path, _parent()))
    refs = {"ModelForestRoleABCD1234": "role-name"}
    attributes = {
        "BucketABCD1234.Arn": "arn:aws:s3:::bucket",
        "ModelForestRoleABCD1234.Arn": "arn:aws:iam::123456789012:role/role-name",
    }

    statement = flat["Resources"]["ModelForestPolicyABCD1234"]["Properties"]["PolicyDocument"][
        "Statement"
    ][0]
    consumer = flat["Resources"]["Consumer"]
    assert resolve(statement["Resource"], refs, attributes) == "arn:aws:s3:::bucket/role-name/*"
    assert resolve(consumer["Properties"], refs, attributes) == {
        "DisplayName": "arn:aws:iam::123456789012:role/role-name",
        "TopicName": "t-arn:aws:iam::123456789012:role/role-name",
    }
    # What depended on the nested stack depends on each of its resources.
    assert consumer["DependsOn"] == ["ModelForestPolicyABCD1234", "ModelForestRoleABCD1234"]


def test_the_asset_path_metadata_wins_over_the_assets_manifest(tmp_path: Path) -> None:
    path = _cdk_out(tmp_path, _parent())
    renamed = tmp_path / "elsewhere.nested.template.json"
    (tmp_path / "appdevModelForestABCD.nested.template.json").rename(renamed)
    parent = _parent(Metadata={"aws:asset:path": renamed.name})
    path.write_text(json.dumps(parent))

    assert "ModelForestRoleABCD1234" in load_flat_template(path)["Resources"]


def test_a_nested_template_missing_from_cdk_out_is_refused_by_its_logical_id(
    tmp_path: Path,
) -> None:
    path = _cdk_out(tmp_path, _parent())
    (tmp_path / "appdevModelForestABCD.nested.template.json").unlink()

    with pytest.raises(UnsupportedResource, match=rf"nested stack {NESTED_ID}.*{KEY}"):
        load_flat_template(path)


def test_a_parameter_the_parent_does_not_pass_is_refused_by_name(tmp_path: Path) -> None:
    parent = _parent()
    parent["Resources"][NESTED_ID]["Properties"]["Parameters"] = {}

    with pytest.raises(UnsupportedResource, match="referencetoBucketArn"):
        load_flat_template(_cdk_out(tmp_path, parent))


def test_an_attribute_of_a_nested_stack_other_than_an_output_is_refused(tmp_path: Path) -> None:
    parent = _parent()
    parent["Resources"]["Consumer"]["Properties"]["DisplayName"] = {"Ref": NESTED_ID}

    with pytest.raises(UnsupportedResource, match="only the Outputs"):
        load_flat_template(_cdk_out(tmp_path, parent))


def test_a_nested_id_that_would_collide_keeps_the_whole_logical_id_as_prefix(
    tmp_path: Path,
) -> None:
    parent = _parent()
    parent["Resources"]["ModelForestRoleABCD1234"] = {"Type": "AWS::SNS::Topic"}

    flat = load_flat_template(_cdk_out(tmp_path, parent))

    assert f"{NESTED_ID}RoleABCD1234" in flat["Resources"]
    assert flat["Resources"]["ModelForestRoleABCD1234"]["Type"] == "AWS::SNS::Topic"


def test_nested_stacks_inside_nested_stacks_are_folded_too(tmp_path: Path) -> None:
    inner_id = "InnerNestedStackInnerNestedStackResource9F8E7D6C"
    grandchild = {
        "Parameters": {"roleArn": {"Type": "String"}},
        "Resources": {
            "TopicAAAA1111": {
                "Type": "AWS::SNS::Topic",
                "Properties": {"DisplayName": {"Ref": "roleArn"}},
            }
        },
    }
    child = json.loads(json.dumps(CHILD))
    child["Resources"][inner_id] = _nested_stack(
        {"roleArn": {"Fn::GetAtt": ["RoleABCD1234", "Arn"]}}, key="inner.json"
    )
    path = _cdk_out(tmp_path, _parent(), child)
    (tmp_path / "inner.nested.template.json").write_text(json.dumps(grandchild))
    manifest = json.loads((tmp_path / "app-dev.assets.json").read_text())
    manifest["files"]["inner"] = {
        "source": {"path": "inner.nested.template.json"},
        "destinations": {"current": {"objectKey": "inner.json"}},
    }
    (tmp_path / "app-dev.assets.json").write_text(json.dumps(manifest))

    topic = load_flat_template(path)["Resources"]["ModelForestInnerTopicAAAA1111"]

    assert topic["Properties"]["DisplayName"] == {"Fn::GetAtt": ["ModelForestRoleABCD1234", "Arn"]}
    assert topic["Metadata"][NESTED_STACK_METADATA] == f"{NESTED_ID}/{inner_id}"


def test_a_template_without_nested_stacks_is_unchanged(tmp_path: Path) -> None:
    template = {"Resources": {"BucketABCD1234": {"Type": "AWS::S3::Bucket"}}}

    assert flatten(template, tmp_path / "x.template.json") == template


def test_find_template_picks_the_parent_not_its_nested_templates(tmp_path: Path) -> None:
    path = _cdk_out(tmp_path, _parent())

    assert find_template(tmp_path) == path


def test_long_generated_names_stay_distinct_within_the_limit() -> None:
    stack = "modelship-dev"
    first = physical_name(stack, "ModelChurnForestReleasesReleaseTaskFunctionServiceRoleA")
    second = physical_name(stack, "ModelChurnForestReleasesReleaseTaskFunctionServiceRoleB")

    assert first != second
    assert len(first) == len(second) == 64
    assert physical_name(stack, "PredictFunction1A2B3C4D") == "modelship-dev-PredictFunction"
