"""Authorizes AWS calls made on behalf of a role or a service, as AWS would, and keeps count.

`Authorizer.authorize_call` decides a botocore call made with a role's credentials: its
identity policies from the template, the target's resource policy, `aws:SecureTransport`
(boto3 uses TLS on AWS). `authorize_service` decides a service principal's call
(events.amazonaws.com or apigateway.amazonaws.com invoking a function) against the target's
resource policy with `aws:SourceArn`. A denial raises `AccessDenied`, which carries the error
AWS returns to the caller; every denial is reported through `on_denied`, every allowed request
is kept in `allowed` for the least-privilege report.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelship.local.iam.evaluator import (
    Decision,
    Evaluator,
    Simulation,
    Statement,
    shared_evaluator,
)
from modelship.local.iam.policies import ACCOUNT, TemplatePolicies
from modelship.local.iam.requests import IamRequest, UnmappedOperation, iam_requests

# How each service reports a denial: (error code, HTTP status).
_ERRORS = {
    "s3": ("AccessDenied", 403),
    "lambda": ("AccessDeniedException", 403),
    "stepfunctions": ("AccessDeniedException", 400),
    "cloudwatch": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "sqs": ("AccessDenied", 403),
}


class AccessDenied(Exception):
    """AWS refused the call; `error_response` is what botocore's ClientError carries."""

    def __init__(self, service: str, operation: str, message: str) -> None:
        super().__init__(message)
        code, status = _ERRORS.get(service, ("AccessDeniedException", 400))
        self.service = service
        self.operation = operation
        self.error_response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())},
        }

    def client_error(self) -> Exception:
        from botocore.exceptions import ClientError

        error: Exception = ClientError(self.error_response, self.operation)
        return error


@dataclass(frozen=True)
class AllowedRequest:
    """One authorized request of a role, kept to measure which statements it needs."""

    role_arn: str
    principal: str
    request: IamRequest
    resource_policy_arn: str | None
    # The Allow statements that matched: only these can be needed by this request.
    decisive: tuple[Statement, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "role_arn": self.role_arn,
            "principal": self.principal,
            "action": self.request.action,
            "resource": self.request.resource,
            "context": dict(self.request.context),
            "resource_policy_arn": self.resource_policy_arn,
            "decisive": [
                {"policy_type": s.policy_type, "policy": s.policy, "sid": s.sid, "index": s.index}
                for s in self.decisive
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AllowedRequest:
        return cls(
            role_arn=data["role_arn"],
            principal=data["principal"],
            request=IamRequest(
                data["action"], data["resource"], tuple(sorted(data["context"].items()))
            ),
            resource_policy_arn=data.get("resource_policy_arn"),
            decisive=tuple(
                Statement(d["policy_type"], d.get("policy"), d.get("sid"), int(d["index"]))
                for d in data.get("decisive", [])
            ),
        )


def session_principal(role_name: str, session: str) -> str:
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"


def _denial_message(principal: str, request: IamRequest, decision: Decision) -> str:
    prefix = (
        f"User: {principal} is not authorized to perform: {request.action} "
        f"on resource: {request.resource}"
    )
    if decision.result == "ExplicitlyDenied":
        kind = {s.policy_type for s in decision.decisive}
        where = "a resource-based policy" if kind == {"resource"} else "an identity-based policy"
        return f"{prefix} with an explicit deny in {where}"
    return f"{prefix} because no identity-based policy allows the {request.action} action"


@dataclass
class Authorizer:
    policies: TemplatePolicies
    evaluator: Evaluator = field(default_factory=shared_evaluator)
    on_denied: Callable[[dict[str, Any]], None] | None = None
    # Each distinct allowed request once, in the order first seen.
    allowed: list[AllowedRequest] = field(default_factory=list)
    denied: list[dict[str, Any]] = field(default_factory=list)
    _seen: set[AllowedRequest] = field(default_factory=set)
    # The policies never change: one evaluation per distinct request.
    _decisions: dict[str, Decision] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resource_policy_arn(self, resource: str) -> str | None:
        """The ARN whose resource policy applies to `resource`, if it has one."""
        candidates = [resource]
        if resource.startswith("arn:aws:s3:::"):
            candidates.append(
                "arn:aws:s3:::" + resource.removeprefix("arn:aws:s3:::").split("/")[0]
            )
        return next((c for c in candidates if c in self.policies.resource_policies), None)

    def authorize_call(
        self, role_arn: str, session: str, service: str, operation: str, params: Mapping[str, Any]
    ) -> None:
        """Raises AccessDenied unless every request AWS evaluates for the call is allowed."""
        role = self.policies.role(role_arn)
        role_name = role_arn.rsplit("/", 1)[-1]
        principal = session_principal(role_name, session)
        try:
            requests = iam_requests(service, operation, params)
        except UnmappedOperation as exc:
            self._deny(role_arn, principal, f"{service}:{operation}", "", str(exc))
            raise AccessDenied(service, operation, f"{exc} (not authorized locally)") from None
        for request in requests:
            if role is None:
                reason = f"role {role_arn} is not in the template"
                self._deny(role_arn, principal, request.action, request.resource, reason)
                raise AccessDenied(service, operation, _denial_message(principal, request, _NONE))
            resource_arn = self.resource_policy_arn(request.resource)
            simulation = Simulation(
                principal=principal,
                action=request.action,
                resource=request.resource,
                context={"aws:SecureTransport": "true", **request.context_dict()},
                identity_policies=role.policies,
                resource_policy=self.policies.resource_policy(resource_arn)
                if resource_arn
                else None,
            )
            decision = self._decide(simulation)
            if decision.allowed:
                kept = AllowedRequest(role_arn, principal, request, resource_arn, decision.decisive)
                with self._lock:
                    if kept not in self._seen:
                        self._seen.add(kept)
                        self.allowed.append(kept)
                continue
            reason = decision.error or decision.result
            self._deny(role_arn, principal, request.action, request.resource, reason)
            if decision.error is not None:
                message = f"{request.action} on {request.resource}: {decision.error}"
                raise AccessDenied(service, operation, message)
            raise AccessDenied(service, operation, _denial_message(principal, request, decision))

    def missing_object(self, role_arn: str, session: str, params: Mapping[str, Any]) -> None:
        """S3 answers a read of a missing key 404 only to a caller that may list the bucket at
        that key (s3:ListBucket), and 403 AccessDenied to any other: raises that 403."""
        try:
            self.authorize_call(
                role_arn,
                session,
                "s3",
                "ListObjectsV2",
                {"Bucket": params["Bucket"], "Prefix": params["Key"]},
            )
        except AccessDenied:
            raise AccessDenied("s3", "GetObject", "Access Denied") from None

    def authorize_service(
        self, service_principal: str, action: str, resource: str, source_arn: str
    ) -> Decision:
        """A service's call (e.g. events.amazonaws.com invoking a function) against the
        target's resource policy; denials are reported, the caller acts on the decision."""
        policy_arn = self.resource_policy_arn(resource) or resource
        simulation = Simulation(
            principal=service_principal,
            action=action,
            resource=resource,
            context={
                "aws:SourceArn": source_arn,
                "aws:SourceAccount": ACCOUNT,
                "aws:SecureTransport": "true",
            },
            identity_policies=(),
            resource_policy=self.policies.resource_policy(policy_arn)
            or {"Version": "2012-10-17", "Statement": []},
        )
        decision = self._decide(simulation)
        if not decision.allowed:
            reason = decision.error or f"{decision.result} by the resource policy of {policy_arn}"
            self._deny(service_principal, service_principal, action, resource, reason, source_arn)
        return decision

    def _decide(self, simulation: Simulation) -> Decision:
        key = json.dumps(
            [simulation.principal, simulation.action, simulation.resource, simulation.context],
            sort_keys=True,
        )
        key += str(id(simulation.identity_policies)) + str(id(simulation.resource_policy))
        decision = self._decisions.get(key)
        if decision is None:
            decision = self.evaluator.decide(simulation)
            self._decisions[key] = decision
        return decision

    def _deny(
        self,
        role: str,
        principal: str,
        action: str,
        resource: str,
        reason: str,
        source_arn: str | None = None,
    ) -> None:
        record = {
            "role": role,
            "principal": principal,
            "action": action,
            "resource": resource,
            "reason": reason,
        }
        if source_arn:
            record["source_arn"] = source_arn
        with self._lock:
            self.denied.append(record)
        if self.on_denied is not None:
            self.on_denied(record)


_NONE = Decision(result="ImplicitlyDenied")
