"""What the dependency layer pins, read from its recipe so the stack never restates it."""

from __future__ import annotations

import re
from pathlib import Path

from infra_cdk.function_source import REPO_ROOT

LAYER_REQUIREMENTS = REPO_ROOT / "layers" / "requirements.txt"
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_versions(requirements: Path = LAYER_REQUIREMENTS) -> dict[str, str]:
    pins = {}
    for line in requirements.read_text().splitlines():
        if match := _PIN.match(line):
            pins[normalize(match.group(1))] = match.group(2)
    return pins


def pinned_version(package: str, requirements: Path = LAYER_REQUIREMENTS) -> str:
    try:
        return pinned_versions(requirements)[normalize(package)]
    except KeyError:
        raise ValueError(f"{requirements} does not pin {package} with ==") from None
