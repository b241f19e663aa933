"""Where the authorizer is applied: every botocore call made on behalf of a role.

While `enforce(authorizer)` is active:
- a botocore call made inside `acting_as(role_arn, session)` (a handler running as its
  function's role, a Step Functions execution as its state machine's role) is authorized
  first, and a denial raises the ClientError AWS would return;
- moto's Step Functions Task states run as their state machine's role, so task
  integrations (Lambda invoke, `aws-sdk:*`, SNS publish) are authorized as AWS authorizes
  them.
Calls made outside `acting_as` (test code, the CLI, the emulator itself) are an unrestricted
operator's.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from unittest import mock

from modelship.local.iam.authorizer import AccessDenied, Authorizer

ENV_SWITCH = "MODELSHIP_IAM"
_local = threading.local()
_state: dict[str, Authorizer | None] = {"authorizer": None}


class InvalidSwitch(Exception):
    """MODELSHIP_IAM holds something other than on/off."""


def enabled() -> bool:
    """MODELSHIP_IAM=off turns enforcement off; on (the default) keeps it."""
    value = os.environ.get(ENV_SWITCH, "on").strip().lower()
    if value not in {"on", "off"}:
        raise InvalidSwitch(f"{ENV_SWITCH} must be 'on' or 'off', not {value!r}")
    return value == "on"


def current() -> Authorizer | None:
    return _state["authorizer"]


def _stack() -> list[tuple[str, str]]:
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def acting_as_role() -> tuple[str, str] | None:
    stack = _stack()
    return stack[-1] if stack else None


@contextlib.contextmanager
def acting_as(role_arn: str | None, session: str) -> Iterator[None]:
    """Calls made by this thread inside the block are `role_arn`'s (None: unchanged)."""
    if role_arn is None:
        yield
        return
    stack = _stack()
    stack.append((role_arn, session))
    try:
        yield
    finally:
        stack.pop()


@contextlib.contextmanager
def as_operator() -> Iterator[None]:
    """Calls made by this thread inside the block are unrestricted (test code or the
    emulator itself running inside a state machine's or a function's call)."""
    stack = _stack()
    stack.append(("", ""))
    try:
        yield
    finally:
        stack.pop()


def is_missing_object(operation: str, response: Mapping[str, Any]) -> bool:
    """An S3 read that found no object: AWS answers it 404 only to callers that may list."""
    code = str(response.get("Error", {}).get("Code", ""))
    return operation in {"GetObject", "HeadObject"} and code in {"NoSuchKey", "404", "NotFound"}


def _service_name(client: Any) -> str:
    return str(client.meta.service_model.service_name)


@contextlib.contextmanager
def enforce(authorizer: Authorizer) -> Iterator[Authorizer]:
    """Authorizes every call made on behalf of a role while active; see the module doc."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (  # noqa: E501
        StateTaskService,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import (
        StateTaskLambda,
    )

    original_call = BaseClient._make_api_call
    original_submit = ThreadPoolExecutor.submit

    def make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        caller = acting_as_role()
        active = _state["authorizer"]
        if caller is None or not caller[0] or active is None:
            return original_call(client, operation_name, api_params)
        role_arn, session = caller
        service = _service_name(client)
        try:
            active.authorize_call(role_arn, session, service, operation_name, api_params)
        except AccessDenied as denied:
            raise denied.client_error() from None
        try:
            return original_call(client, operation_name, api_params)
        except ClientError as exc:
            if service == "s3" and is_missing_object(operation_name, exc.response):
                try:
                    active.missing_object(role_arn, session, api_params)
                except AccessDenied as denied:
                    raise denied.client_error() from None
            raise

    def submit(executor: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        # A handler's thread pool (boto3's upload_file and download_file use one) makes its
        # calls with the handler's credentials: run each task as the submitting thread's role.
        caller = acting_as_role()
        if caller is None:
            return original_submit(executor, fn, *args, **kwargs)

        def as_caller(*inner_args: Any, **inner_kwargs: Any) -> Any:
            stack = _stack()
            stack.append(caller)
            try:
                return fn(*inner_args, **inner_kwargs)
            finally:
                stack.pop()

        return original_submit(executor, as_caller, *args, **kwargs)

    def as_machine_role(original: Any) -> Any:
        # moto runs each Task state in a thread of its own: take the role from the
        # execution's context object there, where the task's AWS calls are made.
        def eval_execution(state: Any, env: Any) -> Any:
            execution = env.states.context_object.context_object_data["Execution"]
            session = str(execution["Id"]).rsplit(":", 1)[-1]  # the execution's name
            with acting_as(str(execution["RoleArn"]), session):
                return original(state, env)

        return eval_execution

    previous = _state["authorizer"]
    _state["authorizer"] = authorizer
    patches: list[Any] = [
        mock.patch.object(BaseClient, "_make_api_call", make_api_call),
        mock.patch.object(ThreadPoolExecutor, "submit", submit),
        *(
            mock.patch.object(task, "_eval_execution", as_machine_role(task._eval_execution))
            for task in (StateTaskLambda, StateTaskService)
        ),
    ]
    for patch in patches:
        patch.start()
    try:
        yield authorizer
    finally:
        for patch in reversed(patches):
            patch.stop()
        _state["authorizer"] = previous
