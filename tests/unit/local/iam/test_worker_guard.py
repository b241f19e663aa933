"""The guard an emulator worker loads: each botocore call is authorized by the emulator's
endpoint before it leaves the process; a denial raises AWS's ClientError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from modelship.local.iam import Authorizer, template_policies
from modelship.local.iam.endpoint import GUARD_SCRIPT, AuthorizationEndpoint
from tests.unit.local.iam.test_authorizer import ATTRIBUTES, REFS, ROLE_ARN, TEMPLATE

# A worker's call: allowed ones go on to the (unreachable) endpoint, denied ones never leave.
WORKER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("guard", sys.argv[1])
guard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(guard)
guard.install()
import boto3, botocore.exceptions
client = boto3.client(
    "lambda", region_name="us-east-1", endpoint_url="http://127.0.0.1:9",
    aws_access_key_id="testing", aws_secret_access_key="testing",
)
try:
    getattr(client, sys.argv[2])(FunctionName="stack-Predict", Name="live")
except botocore.exceptions.ClientError as error:
    print(json.dumps(error.response["Error"]))
except botocore.exceptions.EndpointConnectionError:
    print(json.dumps({"Code": "sent"}))
"""


@pytest.fixture
def endpoint() -> Iterator[tuple[AuthorizationEndpoint, Authorizer]]:
    authorizer = Authorizer(template_policies(TEMPLATE, REFS, ATTRIBUTES))
    served = AuthorizationEndpoint(authorizer)
    served.start()
    yield served, authorizer
    served.stop()
    authorizer.evaluator.stop()


def _call(endpoint: AuthorizationEndpoint, operation: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MODELSHIP_IAM_ENDPOINT": endpoint.url,
        "MODELSHIP_IAM_ROLE": ROLE_ARN,
        "AWS_LAMBDA_FUNCTION_NAME": "rollback",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(GUARD_SCRIPT), operation],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def test_an_allowed_call_is_sent(endpoint: tuple[AuthorizationEndpoint, Authorizer]) -> None:
    served, authorizer = endpoint
    assert _call(served, "get_alias") == {"Code": "sent"}
    assert [a.request.action for a in authorizer.allowed] == ["lambda:GetAlias"]


def test_a_denied_call_fails_as_aws_fails_it_and_is_recorded(
    endpoint: tuple[AuthorizationEndpoint, Authorizer],
) -> None:
    served, authorizer = endpoint
    error = _call(served, "delete_alias")
    assert error["Code"] == "AccessDeniedException"
    assert "assumed-role/stack-RollbackRole/rollback" in error["Message"]
    assert "lambda:DeleteAlias" in error["Message"]
    assert authorizer.denied[0]["action"] == "lambda:DeleteAlias"
