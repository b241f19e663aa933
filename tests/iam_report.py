"""What IAM enforcement saw over a test run: every authorizer the tests used."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelship.local.iam import Authorizer


@dataclass
class Recorded:
    worlds: list[Authorizer] = field(default_factory=list)

    def denied(self) -> list[dict[str, object]]:
        return [record for world in self.worlds for record in world.denied]


RECORDED = Recorded()
