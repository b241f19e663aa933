"""What the checks find: a finding, all findings of one template, and the refusal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One property AWS would refuse (or, for an advisory, warns about)."""

    rule: str
    logical_id: str
    prop: str
    value: Any
    limit: str

    def __str__(self) -> str:
        shown = self.value if isinstance(self.value, int | float) else repr(self.value)
        if isinstance(self.value, str) and len(self.value) > 120:
            shown = repr(self.value[:117] + "...")
        return f"{self.logical_id}: {self.prop} = {shown}: {self.limit}"


@dataclass
class Validation:
    refusals: list[Finding] = field(default_factory=list)
    advisories: list[Finding] = field(default_factory=list)

    @property
    def rules(self) -> set[str]:
        return {f.rule for f in self.refusals}


class TemplateRefused(Exception):
    """The template holds properties AWS would refuse at deployment."""

    def __init__(self, refusals: list[Finding]) -> None:
        self.refusals = refusals
        lines = "\n".join(f"  - {finding}" for finding in refusals)
        super().__init__(f"AWS would refuse this template ({len(refusals)} finding(s)):\n{lines}")
