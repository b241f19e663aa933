"""Schemathesis against the API as the emulator serves it: the operations come from the
documents the predict function publishes (/openapi.json for the single-model routes, the
default model's /models/<name>/openapi.json for its named routes), every request is generated
from them (valid and invalid data), signed with SigV4 as the AWS_IAM routes demand, and every
answer is checked against the document: no server error, a documented status, content type,
headers and body. The seed is fixed (MODELSHIP_FUZZ_SEED picks another, see CONTRIBUTING.md)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from botocore.credentials import ReadOnlyCredentials
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import APIOperation, Case, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from modelship import names
from modelship.api_signing import signed_headers
from modelship.demo_traffic import Pacer
from modelship.local.deployer import find_template, load_flat_template
from tests.e2e.conftest import Local

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("MODELSHIP_FUZZ_SEED", "16"))
# Examples per operation and generation mode: the predict routes take a body worth fuzzing;
# the GET routes take no input but the signature.
EXAMPLES = {"post": 260, "get": 12}
MIN_REQUESTS = 1000
# The stage throttles at 50 requests/s (burst 100): the fuzz stays under it.
MAX_RATE = 40.0
# One call in flight (sent while the next cases are generated): more would start more
# workers, each a cold start.
CONCURRENCY = 1
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class SigV4(requests.auth.AuthBase):
    """Signs the request as sent: its method, URL with query, and body bytes."""

    def __init__(self, credentials: ReadOnlyCredentials, region: str) -> None:
        self.credentials = credentials
        self.region = region

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        content_type = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        request.headers.update(
            signed_headers(
                str(request.method),
                str(request.url),
                body,
                content_type,
                self.credentials,
                self.region,
            )
        )
        return request


def resources(cdk_out: Path, kind: str) -> list[dict[str, Any]]:
    template = load_flat_template(find_template(cdk_out))
    return [r for r in template.get("Resources", {}).values() if r["Type"] == kind]


def served_routes(cdk_out: Path) -> set[str]:
    """Every route key of the synthesized HTTP API ("POST /predict", ...)."""
    return {
        str(r["Properties"]["RouteKey"]) for r in resources(cdk_out, "AWS::ApiGatewayV2::Route")
    }


def default_model(cdk_out: Path) -> str:
    """The deployment's default model: first in every predict function's model list."""
    for function in resources(cdk_out, "AWS::Lambda::Function"):
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if names.ENV_DEPLOYMENT_MODELS in variables:
            return str(variables[names.ENV_DEPLOYMENT_MODELS]).split(",")[0]
    raise AssertionError("no predict function in the template")


def warm_up(url: str, auth: requests.auth.AuthBase, patience: float = 120.0) -> None:
    """Waits for the first 200 of `url`: the fuzz starts on a warm function, not its cold
    start (which a loaded machine may stretch past the function's timeout)."""
    deadline = time.monotonic() + patience
    while (answer := requests.get(url, auth=auth, timeout=60)).status_code != 200:
        assert time.monotonic() < deadline, (url, answer.status_code, answer.text[:300])
        time.sleep(1)


def submit(
    calls: list[tuple[str, Case, Future[Response]]],
    pool: ThreadPoolExecutor,
    call: Callable[[Case], Response],
    label: str,
    case: Case,
) -> None:
    calls.append((label, case, pool.submit(call, case)))


def generate(operation: APIOperation, mode: GenerationMode, sink: Callable[[Case], None]) -> None:
    """Hands each case generated for `operation` in `mode` to `sink`."""

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES[operation.method.lower()],
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def each(case: Case) -> None:
        sink(case)

    each()


def test_generated_requests_get_documented_answers(local: Local, cdk_out: Path) -> None:
    # Given the function's two documents: the single-model routes from /openapi.json, the
    # default model's named routes from its /models/<name>/openapi.json (schemathesis leaves a
    # document's own route out unless a filter names it, hence the filters)
    env = local.environment
    credentials = ReadOnlyCredentials(
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
    )
    auth = SigV4(credentials, env["AWS_REGION"])
    pace = Pacer(MAX_RATE).wait
    prefix = names.model_routes_prefix(default_model(cdk_out))
    warm_up(f"{local.api_url}/health", auth)
    pace()
    single = schemathesis.openapi.from_url(f"{local.api_url}/openapi.json", auth=auth).include(
        path_regex=f"^(?!{re.escape(names.MODEL_ROUTES_PREFIX)}/)"
    )
    pace()
    named = schemathesis.openapi.from_url(f"{local.api_url}{prefix}/openapi.json", auth=auth)
    named = named.include(path_regex=f"^{re.escape(prefix)}/")
    operations = [
        result.ok() for schema in (single, named) for result in schema.get_all_operations()
    ]

    # When each operation gets generated valid data, and invalid data where it takes a body
    # (sent one at a time, paced, while the next cases are generated)
    sessions = threading.local()  # schemathesis swaps a session's headers during a call
    calls: list[tuple[str, Case, Future[Response]]] = []

    def call(case: Case) -> Response:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        pace()
        return case.call(base_url=local.api_url, session=sessions.session, auth=auth, timeout=30)

    with ThreadPoolExecutor(max_workers=CONCURRENCY) as pool:
        for operation in operations:
            modes = [GenerationMode.POSITIVE]
            if operation.body:
                modes.append(GenerationMode.NEGATIVE)
            for mode in modes:
                label = f"{operation.label} ({mode.value})"
                generate(operation, mode, partial(submit, calls, pool, call, label))
    failures = []
    for label, case, answer in calls:
        try:
            case.validate_response(answer.result(), checks=CHECKS)
        except FailureGroup as failure:
            failures.append(f"{label}: {failure.message}")

    # Then every route of the API was exercised, enough requests were sent, and every answer
    # is the document's
    sent = Counter(case.operation.label for _, case, _ in calls)
    print(f"seed {SEED}: {sum(sent.values())} requests", dict(sorted(sent.items())))
    assert set(sent) == served_routes(cdk_out), sorted(sent)
    assert sum(sent.values()) >= MIN_REQUESTS, sent
    assert not failures, f"{len(failures)} answers off the document:\n" + "\n".join(failures[:5])
