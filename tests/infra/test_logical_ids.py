"""A logical ID is CloudFormation's identity of a resource: change it and the next deploy
replaces the resource. For the stateful ones that loses what a user has: the retained model
bucket is orphaned beside an empty twin, the predict function's published releases and the
alias routing go, the API URL changes, log groups and dead-letter queues lose their content,
subscribers lose the topic. stateful_logical_ids.json pins them as first deployed; a new
stateful resource is added there, an existing one never renamed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, CfnElement
from aws_cdk.assertions import Template

from infra_cdk.app import build_app
from infra_cdk.modelship_stack import FLAT_SCOPES, unique_id
from tests.infra.template_queries import Synth

PINNED = json.loads((Path(__file__).parent / "stateful_logical_ids.json").read_text())
STATEFUL_TYPES = sorted(PINNED["default"])


def _stateful(template: Template) -> dict[str, list[str]]:
    found = {}
    for resource_type in STATEFUL_TYPES:
        found[resource_type] = sorted(template.find_resources(resource_type))
    return found


def _expected(*extras: str) -> dict[str, list[str]]:
    expected = {t: list(ids) for t, ids in PINNED["default"].items()}
    for extra in extras:
        for resource_type, ids in PINNED[extra].items():
            expected[resource_type] = sorted(expected[resource_type] + ids)
    return expected


def test_stateful_resources_keep_their_logical_ids(template: Template) -> None:
    assert _stateful(template) == _expected()


@pytest.mark.parametrize(
    "context",
    [
        {"authMode": "jwt", "jwtIssuer": "https://issuer.example.com", "jwtAudience": "api"},
        {"authMode": "none", "authNoneReason": "a public demo"},
        {"snapStart": "on", "stage": "prod", "retrainSchedule": "rate(7 days)"},
    ],
)
def test_context_switches_rename_no_stateful_resource(synth: Synth, context: dict) -> None:
    assert _stateful(synth(**context)) == _expected()


def test_the_sagemaker_backend_adds_only_its_collect_task(synth: Synth) -> None:
    template = synth(
        trainingBackend="sagemaker",
        sagemakerImageUri="123456789012.dkr.ecr.us-east-1.amazonaws.com/train:1",
    )
    assert _stateful(template) == _expected("trainingBackend=sagemaker adds")


def test_the_stack_allocates_ids_as_cdk_does(stub_layer: Path, tmp_path: Path) -> None:
    """ModelshipStack computes the IDs of the flattened constructs' resources itself; outside
    them CDK does, and the two formulas must agree there (paths with duplicates, `Resource`
    and `Default` parts, long and one-part paths all occur)."""
    stack = build_app(App(outdir=str(tmp_path)), layer_asset=stub_layer)
    elements = [c for c in stack.node.find_all() if isinstance(c, CfnElement)]
    checked = 0
    for element in elements:
        scopes = element.node.scopes
        path = [scope.node.id for scope in scopes[scopes.index(stack) + 1 :]]
        if path[0] in FLAT_SCOPES:
            continue
        assert unique_id(path) == stack.get_logical_id(element), "/".join(path)
        checked += 1
    assert checked > 50
