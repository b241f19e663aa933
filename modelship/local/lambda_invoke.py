"""moto's Lambda `invoke`, answered by real handler code: the one patch both runners use.

moto without Docker answers `invoke` with a canned payload (its LambdaSimpleBackend
overrides the Lambda backend's `invoke`). While `answered_by(run)` is active, every
invocation moto receives (boto3, the AWS CLI, a Step Functions task) calls `run` with moto's
Lambda backend, the function as the caller named it (a name or an ARN), the qualifier and
the decoded event; `run` answers as Lambda does: the payload (the result, or the error
document), whether the function failed, and the version that ran. The emulator runs
handlers in worker processes (executor); the integration tests run them in the test process
(inprocess_lambda).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock


@dataclass(frozen=True)
class Answer:
    payload: bytes
    failed: bool = False
    # Sent as x-amz-executed-version when known.
    executed_version: str | None = None


# (moto's Lambda backend, function name or ARN, qualifier, event) -> the answer.
Run = Callable[[Any, str, str | None, Any], Answer]


@contextlib.contextmanager
def answered_by(run: Run, *, background_events: bool = False) -> Iterator[None]:
    """While active, moto's Lambda `invoke` calls `run`. With `background_events`, an
    asynchronous invocation (InvocationType Event) runs in a thread and returns at once, as
    Lambda queues it; without, it runs before the call returns."""
    from moto.awslambda.models import LambdaBackend
    from moto.awslambda.responses import LambdaResponse
    from moto.awslambda_simple.models import LambdaSimpleBackend

    original_response = LambdaResponse.invoke

    def response_invoke(response: Any) -> Any:
        # The API's query parameter is `Qualifier` (Invoke API reference); moto reads
        # `qualifier`, so without this an Invoke with a Qualifier would run $LATEST.
        qualifier = response.querystring.get("Qualifier")
        if qualifier and "qualifier" not in response.querystring:
            response.querystring["qualifier"] = qualifier
        return original_response(response)

    def invoke(
        backend: Any,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        event = json.loads(body) if body else {}
        if background_events and headers.get("X-Amz-Invocation-Type") == "Event":
            # Lambda refuses an unknown function or qualifier before it queues the event.
            backend.get_function(function_name, qualifier)
            threading.Thread(
                target=run, args=(backend, function_name, qualifier, event), daemon=True
            ).start()
            return b""
        answer = run(backend, function_name, qualifier, event)
        if answer.executed_version is not None:
            response_headers["x-amz-executed-version"] = answer.executed_version
        if answer.failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        response_headers["Content-Length"] = str(len(answer.payload))
        return answer.payload

    # Without Docker moto uses LambdaSimpleBackend, which overrides invoke: patch both.
    with (
        mock.patch.object(LambdaResponse, "invoke", response_invoke),
        mock.patch.object(LambdaBackend, "invoke", invoke),
        mock.patch.object(LambdaSimpleBackend, "invoke", invoke),
    ):
        yield
