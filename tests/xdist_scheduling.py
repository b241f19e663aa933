"""How `make test` splits the suite across pytest-xdist workers.

Whole test modules go to the workers in turn (their module-scoped fixtures, e.g. a
synthesis, are built once), as `--dist loadfile` does, except that every tests/e2e module is
one unit: one worker runs the whole e2e tier in turn (one emulator at a time, the session's
shared emulator started once) while the other workers take the rest. The e2e unit is handed
out first, then the infra and integration modules, the unit tier last: the longest units
start early and the many short ones even out the end.

xdist's own `--dist loadgroup` cannot do this with pytest 9: it tags an item's `_nodeid` with
its group, which pytest 9 no longer reads (Node.nodeid is `_id`), so the groups vanish. This
scheduler reads the tier from the node id itself (`tests/<tier>/...`), which both versions
keep.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from xdist.scheduler import LoadScopeScheduling
from xdist.workermanage import WorkerController

# The unit holding every e2e test, and the order in which tiers are handed out.
E2E_UNIT = "tests/e2e"
_TIER_ORDER = ("e2e", "infra", "integration")


def tier_of(nodeid: str) -> str | None:
    """The tier directory (`unit`, `e2e`, ...) of a node id under tests/, else None."""
    parts = PurePosixPath(nodeid.split("::", 1)[0]).parts
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else None


def unit_of(nodeid: str) -> str:
    """The work unit of a test: tests/e2e for the e2e tier, its module otherwise."""
    return E2E_UNIT if tier_of(nodeid) == "e2e" else nodeid.split("::", 1)[0]


def _rank(unit: str) -> int:
    tier = "e2e" if unit == E2E_UNIT else tier_of(unit)
    return _TIER_ORDER.index(tier) if tier in _TIER_ORDER else len(_TIER_ORDER)


class TierScheduling(LoadScopeScheduling):
    """loadfile scheduling with the e2e tier as one unit, handed out longest tiers first."""

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _assign_work_unit(self, node: WorkerController) -> None:
        # The next unit is the first of the earliest tier; within a tier, the queue's order
        # (by test count, largest first, unless --no-loadscope-reorder).
        first = min(self.workqueue, key=_rank)
        self.workqueue.move_to_end(first, last=False)
        super()._assign_work_unit(node)
