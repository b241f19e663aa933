"""Least privilege, measured: which Allow statements the recorded requests need.

A statement is needed if at least one authorized request of its role goes from Allowed to
denied when the statement is removed. Only a statement that matched a request (one of the
request's decisive Allow statements) can change that request's decision, so only those
requests are evaluated again, with that one statement left out. A statement no request needs
must go from the template, or carry a reason in `justified.JUSTIFIED`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from modelship.local.iam.authorizer import AllowedRequest
from modelship.local.iam.evaluator import Evaluator, Simulation
from modelship.local.iam.justified import justification
from modelship.local.iam.policies import TemplatePolicies


@dataclass(frozen=True)
class StatementKey:
    role: str  # the role's logical id
    policy: str  # the policy's name (an AWS::IAM::Policy's logical id)
    index: int  # 1-based, within the policy


@dataclass
class StatementUsage:
    key: StatementKey
    sid: str | None
    actions: tuple[str, ...]
    needed_by: list[str] = field(default_factory=list)  # "action resource" of the requests
    justified: str | None = None

    @property
    def verdict(self) -> str:
        if self.needed_by:
            return "needed"
        return "justified" if self.justified else "UNNEEDED"


@dataclass(frozen=True)
class Observation:
    """What one run of the authorizer saw: its policies and its allowed requests."""

    policies: TemplatePolicies
    allowed: tuple[AllowedRequest, ...]


def _actions(statement: dict[str, Any]) -> tuple[str, ...]:
    action = statement.get("Action", [])
    return tuple(sorted([action] if isinstance(action, str) else action))


def statement_usage(
    observations: Iterable[Observation], evaluator: Evaluator
) -> dict[StatementKey, StatementUsage]:
    usage: dict[StatementKey, StatementUsage] = {}
    for observation in observations:
        for role in observation.policies.roles.values():
            for policy, index, statement in role.allow_statements():
                key = StatementKey(role.logical_id, policy, index)
                if key not in usage:
                    actions = _actions(statement)
                    usage[key] = StatementUsage(
                        key,
                        statement.get("Sid"),
                        actions,
                        justified=justification(role.logical_id, actions),
                    )
    for observation in observations:
        policies = observation.policies
        for allowed in observation.allowed:
            caller = policies.role(allowed.role_arn)
            if caller is None:
                continue
            for decisive in allowed.decisive:
                if decisive.policy_type != "identity" or decisive.policy is None:
                    continue
                key = StatementKey(caller.logical_id, decisive.policy, decisive.index)
                entry = usage.get(key)
                described = f"{allowed.request.action} {allowed.request.resource}"
                if entry is None or entry.needed_by:
                    continue
                reduced = caller.without(decisive.policy, decisive.index)
                arn = allowed.resource_policy_arn
                decision = evaluator.decide(
                    Simulation(
                        principal=allowed.principal,
                        action=allowed.request.action,
                        resource=allowed.request.resource,
                        context={"aws:SecureTransport": "true", **allowed.request.context_dict()},
                        identity_policies=reduced.policies,
                        resource_policy=policies.resource_policy(arn) if arn else None,
                    )
                )
                if not decision.allowed:
                    entry.needed_by.append(described)
    return usage


def report(
    usage: dict[StatementKey, StatementUsage], denied: list[dict[str, Any]]
) -> dict[str, Any]:
    statements = sorted(usage.values(), key=lambda u: (u.key.role, u.key.policy, u.key.index))
    return {
        "roles": len({u.key.role for u in statements}),
        "statements": len(statements),
        "needed": sum(u.verdict == "needed" for u in statements),
        "justified": sum(u.verdict == "justified" for u in statements),
        "unneeded": sum(u.verdict == "UNNEEDED" for u in statements),
        "denied_calls": len(denied),
        "denied": denied,
        "table": [
            {
                "role": u.key.role,
                "policy": u.key.policy,
                "index": u.key.index,
                "sid": u.sid,
                "actions": list(u.actions),
                "verdict": u.verdict,
                "needed_by": u.needed_by[:3],
                "reason": u.justified,
            }
            for u in statements
        ],
    }


def table(summary: dict[str, Any]) -> str:
    lines = [
        f"IAM least privilege: {summary['roles']} roles, {summary['statements']} Allow "
        f"statements: {summary['needed']} needed, {summary['justified']} justified, "
        f"{summary['unneeded']} unneeded; denied calls: {summary['denied_calls']}",
    ]
    for row in summary["table"]:
        what = row["needed_by"][0] if row["needed_by"] else (row["reason"] or "-")
        statement = row["sid"] or f"#{row['index']}"
        actions = ",".join(row["actions"])[:50]
        lines.append(
            f"  {row['verdict']:<9} {row['role'][:40]:<40} {statement:<18} {actions:<50} "
            f"{what[:70]}"
        )
    return "\n".join(lines)
