"""docs/architecture.md's "Where the code lives" names every module, and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Where the code lives"
# The packages the tree must cover module by module.
COVERED = ("modelship", "infra_cdk", "functions")
_ENTRY = re.compile(r"^(?P<indent> *)(?P<name>[\w.-]+(?:/|\.py|\.mjs))(?:\s|$)")


def documented_paths(text: str) -> set[str]:
    """Full paths from the section's indented tree (two spaces per level; a name ending in /
    is a directory whose entries follow, indented one level deeper)."""
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = section.split("```")[1::2]
    block = next(b for b in blocks if b.lstrip("\n").startswith("modelship/"))
    stack: list[str] = []
    paths: set[str] = set()
    for line in block.splitlines():
        match = _ENTRY.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 2
        if len(match["indent"]) % 2 or depth > len(stack):
            continue  # a wrapped description, not an entry
        del stack[depth:]
        name = match["name"]
        paths.add("".join(stack) + name)
        if name.endswith("/"):
            stack.append(name)
    return paths


def actual_modules() -> set[str]:
    found: set[str] = set()
    for package in COVERED:
        for path in (REPO / package).rglob("*"):
            if path.suffix not in {".py", ".mjs"} or path.name == "__init__.py":
                continue
            if "node_modules" in path.parts or "__pycache__" in path.parts:
                continue
            found.add(path.relative_to(REPO).as_posix())
    return found


def test_every_module_is_named_in_the_architecture_page() -> None:
    documented = documented_paths((REPO / "docs" / "architecture.md").read_text())
    missing = sorted(actual_modules() - documented)
    assert not missing, f"add these to docs/architecture.md, {SECTION!r}: {missing}"


def test_the_architecture_page_names_no_module_that_does_not_exist() -> None:
    documented = documented_paths((REPO / "docs" / "architecture.md").read_text())
    stale = sorted(p for p in documented if not (REPO / p).exists())
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"


def test_the_tree_parser_reads_nesting_and_skips_wrapped_descriptions() -> None:
    text = (
        f"{SECTION}\n\n```\nmodelship/          library\n  names.py          constants;\n"
        "                      wrapped text.py here\n  serving/          serving\n"
        "    service.py      predict\n  errors.py         errors\n```\n"
    )
    assert documented_paths(text) == {
        "modelship/",
        "modelship/names.py",
        "modelship/serving/",
        "modelship/serving/service.py",
        "modelship/errors.py",
    }
