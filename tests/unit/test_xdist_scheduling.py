"""`make test`'s pytest-xdist scheduler: one worker runs the whole e2e tier, the others whole
modules of the other tiers, the longest tiers handed out first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tests.xdist_scheduling import E2E_UNIT, TierScheduling, tier_of, unit_of

COLLECTION = [
    "tests/unit/test_a.py::test_one",
    "tests/unit/test_a.py::test_two",
    "tests/unit/serving/test_b.py::test_one",
    "tests/integration/test_c.py::test_one",
    "tests/infra/test_d.py::test_one",
    "tests/infra/test_d.py::test_two[x]",
    "tests/e2e/test_e.py::test_one",
    "tests/e2e/test_e.py::test_two",
    "tests/e2e/test_f.py::TestClass::test_one",
    "tests/e2e/test_g.py::test_one[a::b]",
]


class FakeNode:
    """A worker as the scheduler sees it: it is sent test indexes, and shut down."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.gateway = SimpleNamespace(id=name)
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent += indexes

    def shutdown(self) -> None:
        self.shutting_down = True


def _config(workers: int) -> Any:
    option = SimpleNamespace(tx=["popen"] * workers, loadscopereorder=True)
    return SimpleNamespace(option=option, getvalue=lambda name: getattr(option, name))


def _run(workers: int) -> dict[str, list[str]]:
    """Schedules COLLECTION on `workers` nodes that each finish their tests in turn; returns
    the node ids each ran."""
    scheduler = TierScheduling(_config(workers))
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)  # type: ignore[arg-type]
        scheduler.add_node_collection(node, COLLECTION)  # type: ignore[arg-type]
    scheduler.schedule()
    ran: dict[str, list[str]] = {node.name: [] for node in nodes}
    # Each node completes what it was sent, one test at a time, nodes taking turns.
    done = {node.name: 0 for node in nodes}
    while any(done[n.name] < len(n.sent) for n in nodes):
        for node in nodes:
            if done[node.name] < len(node.sent):
                index = node.sent[done[node.name]]
                done[node.name] += 1
                ran[node.name].append(COLLECTION[index])
                scheduler.mark_test_complete(node, index)  # type: ignore[arg-type]
    assert scheduler.tests_finished
    return ran


def test_node_ids_map_to_their_tier_and_unit() -> None:
    assert tier_of("tests/e2e/test_e.py::test_one") == "e2e"
    assert tier_of("tests/unit/serving/test_b.py::test_one") == "unit"
    assert tier_of("tests/conftest.py::x") is None
    assert unit_of("tests/e2e/test_f.py::TestClass::test_one") == E2E_UNIT
    assert unit_of("tests/infra/test_d.py::test_two[x]") == "tests/infra/test_d.py"


def test_one_worker_runs_every_e2e_test_and_each_test_runs_once() -> None:
    ran = _run(2)

    e2e = {name for name, ids in ran.items() for i in ids if tier_of(i) == "e2e"}
    assert len(e2e) == 1
    assert sorted(i for ids in ran.values() for i in ids) == sorted(COLLECTION)


def test_the_e2e_tier_starts_first_and_the_unit_tier_comes_last() -> None:
    ran = _run(2)

    first = [ids[0] for ids in ran.values()]
    assert tier_of(first[0]) == "e2e"
    assert tier_of(first[1]) == "infra"
    other = next(ids for ids in ran.values() if tier_of(ids[0]) != "e2e")
    assert [tier_of(i) for i in other] == sorted(
        (tier_of(i) for i in other), key=["infra", "integration", "unit"].index
    )


def test_a_module_is_never_split_between_workers() -> None:
    ran = _run(2)

    owner = {unit_of(i): name for name, ids in ran.items() for i in ids}
    for name, ids in ran.items():
        assert all(owner[unit_of(i)] == name for i in ids)
