"""The IAM policy evaluator: a long-lived Node process running evaluator.mjs.

evaluator.mjs drives `@cloud-copilot/iam-simulate` (AGPL-3.0-or-later), pinned in
package.json's devDependencies and installed by `npm ci`. It runs only as this separate
development-time process, one per Python process, started on first use and stopped at exit;
nothing imports it and no Lambda asset contains it.
"""

from __future__ import annotations

import atexit
import itertools
import json
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.handler_runner import REPO_ROOT

SCRIPT = Path(__file__).resolve().with_name("evaluator.mjs")
PACKAGE = REPO_ROOT / "node_modules" / "@cloud-copilot" / "iam-simulate"
ACCOUNT = "123456789012"


class EvaluatorUnavailable(Exception):
    """Node or the evaluator's npm packages are missing, or the process died."""


@dataclass(frozen=True)
class Statement:
    """A statement that decided a request: `index` counts from 1 within its policy."""

    policy_type: str
    policy: str | None
    sid: str | None
    index: int


@dataclass(frozen=True)
class Decision:
    result: str  # Allowed, ExplicitlyDenied, ImplicitlyDenied, or Error (invalid request)
    decisive: tuple[Statement, ...] = ()
    resource_type: str | None = None
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.result == "Allowed"


@dataclass(frozen=True)
class Simulation:
    principal: str
    action: str
    resource: str
    context: dict[str, str | list[str]]
    identity_policies: tuple[tuple[str, dict[str, Any]], ...]
    resource_policy: dict[str, Any] | None = None
    account: str = ACCOUNT

    def as_json(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "accountId": self.account,
            "context": self.context,
            "identityPolicies": [{"name": n, "policy": p} for n, p in self.identity_policies],
        }
        if self.resource_policy is not None:
            request["resourcePolicy"] = self.resource_policy
        return request


def _decision(answer: dict[str, Any]) -> Decision:
    error = answer.get("error")
    return Decision(
        result=str(answer["result"]),
        decisive=tuple(
            Statement(s["policyType"], s.get("policy"), s.get("sid"), int(s["index"]))
            for s in answer.get("decisive", [])
        ),
        resource_type=answer.get("resourceType"),
        error=json.dumps(error, sort_keys=True) if error is not None else None,
    )


@dataclass
class Evaluator:
    """Thread-safe: one request at a time over the process's stdin/stdout."""

    _process: subprocess.Popen[str] | None = None
    # How many requests this process decided, and the time they took (the overhead).
    calls: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: Any = field(default_factory=itertools.count)

    def decide(self, simulation: Simulation) -> Decision:
        with self._lock:
            started = time.perf_counter()
            process = self._running()
            request = {"id": next(self._ids), **simulation.as_json()}
            assert process.stdin is not None
            assert process.stdout is not None
            try:
                process.stdin.write(json.dumps(request) + "\n")
                process.stdin.flush()
                line = process.stdout.readline()
            except OSError as exc:
                raise EvaluatorUnavailable(f"the IAM evaluator process failed: {exc}") from exc
            if not line:
                self._process = None
                raise EvaluatorUnavailable(
                    f"the IAM evaluator process exited ({process.poll()}); see its stderr"
                )
            self.calls += 1
            self.seconds += time.perf_counter() - started
            return _decision(json.loads(line))

    def _running(self) -> subprocess.Popen[str]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        node = shutil.which("node")
        if node is None:
            raise EvaluatorUnavailable(
                "IAM enforcement needs Node.js (`node` on PATH); install it, or turn "
                "enforcement off with MODELSHIP_IAM=off"
            )
        if not PACKAGE.is_dir():
            raise EvaluatorUnavailable(
                f"IAM enforcement needs the npm package @cloud-copilot/iam-simulate in "
                f"{PACKAGE.parent.parent}: run `npm ci` in {REPO_ROOT} (the make targets do)"
            )
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
        )
        atexit.register(self.stop)
        return self._process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_shared = Evaluator()


def shared_evaluator() -> Evaluator:
    """The process's one evaluator."""
    return _shared
