"""What IAM enforcement saw over a test run, and the least-privilege report at its end.

Every integration world registers its authorizer here, and the e2e emulator's observations
(iam-observed.json) are added when it stops. Under pytest-xdist (`make test`) each worker
hands what it recorded to the controller (`as_json`, `add_worker`), which reports on all of
it. At the end of the session:
- any denied call fails the run (a denial is a defect, even one the code swallowed);
- with `--iam-report=PATH` (what `make test` passes, for the whole suite), every Allow
  statement of every role must be needed by a recorded request or justified
  (modelship/local/iam/justified.py); the report is written to PATH and summarized.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelship.local.iam import Authorizer, TemplatePolicies
from modelship.local.iam.authorizer import AllowedRequest
from modelship.local.iam.least_privilege import Observation, report, statement_usage, table


@dataclass
class Recorded:
    worlds: list[Authorizer] = field(default_factory=list)
    # Observations from emulators and from xdist workers, and what they denied.
    emulators: list[Observation] = field(default_factory=list)
    emulator_denied: list[dict[str, Any]] = field(default_factory=list)
    # The policy evaluator's work in the workers: (calls, seconds).
    worker_evaluations: list[tuple[int, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.worlds or self.emulators or self.emulator_denied)

    def denied(self) -> list[dict[str, Any]]:
        return [r for world in self.worlds for r in world.denied] + self.emulator_denied

    def as_json(self) -> str:
        """What this process recorded, for the xdist controller (add_worker)."""
        from modelship.local.iam.evaluator import shared_evaluator

        evaluator = shared_evaluator()
        return json.dumps(
            {
                "observations": [
                    {
                        "policies": o.policies.as_json(),
                        "allowed": [a.as_json() for a in o.allowed],
                    }
                    for o in self.observations()
                ],
                "denied": self.denied(),
                "evaluator": [evaluator.calls, evaluator.seconds],
            }
        )

    def add_worker(self, recorded: str) -> None:
        """Adds what an xdist worker recorded (its `as_json`)."""
        data = json.loads(recorded)
        for observed in data["observations"]:
            self._add_observation(observed)
        self.emulator_denied += data["denied"]
        calls, seconds = data["evaluator"]
        self.worker_evaluations.append((int(calls), float(seconds)))

    def add_emulator(self, observed_file: Path) -> None:
        if not observed_file.exists():
            return
        observed = json.loads(observed_file.read_text())
        self._add_observation(observed)
        self.emulator_denied += observed["denied"]

    def _add_observation(self, observed: dict[str, Any]) -> None:
        self.emulators.append(
            Observation(
                TemplatePolicies.from_json(observed["policies"]),
                tuple(AllowedRequest.from_json(a) for a in observed["allowed"]),
            )
        )

    def observations(self) -> list[Observation]:
        by_policies: dict[int, tuple[TemplatePolicies, dict[AllowedRequest, None]]] = {}
        for world in self.worlds:
            _, allowed = by_policies.setdefault(id(world.policies), (world.policies, {}))
            allowed.update(dict.fromkeys(world.allowed))
        worlds = [Observation(p, tuple(a)) for p, a in by_policies.values()]
        return worlds + self.emulators


RECORDED = Recorded()


def finish(report_path: Path | None) -> tuple[bool, str]:
    """(passed, text to print) for the end of the session."""
    denied = RECORDED.denied()
    lines = []
    passed = True
    if denied:
        passed = False
        lines.append(f"IAM: {len(denied)} denied call(s):")
        lines += [
            f"  {d['role']} {d['action']} {d['resource']}: {d['reason']}" for d in denied[:30]
        ]
    if report_path is not None:
        from modelship.local.iam.evaluator import shared_evaluator

        evaluator = shared_evaluator()
        calls, seconds = evaluator.calls, evaluator.seconds
        summary = report(statement_usage(RECORDED.observations(), evaluator), denied)
        summary["evaluator"] = {
            "calls_in_tests": calls + sum(c for c, _ in RECORDED.worker_evaluations),
            "seconds_in_tests": round(seconds + sum(s for _, s in RECORDED.worker_evaluations), 2),
            "calls_for_the_report": evaluator.calls - calls,
            "seconds_for_the_report": round(evaluator.seconds - seconds, 2),
        }
        report_path.write_text(json.dumps(summary, indent=2))
        lines.append(table(summary))
        lines.append(f"IAM evaluator (every test process): {summary['evaluator']}")
        lines.append(f"(report: {report_path})")
        if summary["unneeded"]:
            passed = False
            lines.append(
                "IAM: unneeded Allow statements: remove them from the CDK app or give the "
                "reason in modelship/local/iam/justified.py"
            )
    return passed, "\n".join(lines)
